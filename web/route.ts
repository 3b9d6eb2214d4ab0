import { useEffect, useState } from 'preact/hooks'

/** What the main pane shows, kept in the URL's hash so that a reload (or the back button) returns to it. */
export type Route = { kind: 'home' } | { kind: 'room', name: string } | { kind: 'browse' } | { kind: 'search' }

function parse (hash: string): Route {
  const [, kind, name] = hash.split('/')
  if (kind === 'room' && name !== undefined && name !== '') return { kind: 'room', name: decodeURIComponent(name) }
  if (kind === 'browse' || kind === 'search') return { kind }
  return { kind: 'home' }
}

export function href (route: Route): string {
  return route.kind === 'room' ? `#/room/${encodeURIComponent(route.name)}` : `#/${route.kind}`
}

export function useRoute (): Route {
  const [route, setRoute] = useState(() => parse(location.hash))
  useEffect(() => {
    const changed = () => setRoute(parse(location.hash))
    addEventListener('hashchange', changed)
    return () => removeEventListener('hashchange', changed)
  }, [])
  return route
}

export function go (route: Route): void { location.hash = href(route) }
