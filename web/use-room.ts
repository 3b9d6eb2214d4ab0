import { useEffect, useReducer, useState } from 'preact/hooks'
import { RoomSession, webStorage, type ChatApi, type User } from '../client/index.js'

/** The room's session while the view shows it: started on mount, closed on unmount, re-rendering on each change. */
export function useRoom (api: ChatApi, me: User, name: string) {
  const [session, setSession] = useState<RoomSession | undefined>()
  const [error, setError] = useState('')
  const [, rerender] = useReducer((count: number) => count + 1, 0)
  useEffect(() => {
    const room = new RoomSession({ api, room: name, userId: me.id, storage: webStorage(localStorage) })
    const off = [room.store.on('change', rerender), room.on('status', rerender), room.on('pending', rerender),
      room.on('error', (caught) => setError(caught.message))]
    setSession(room)
    setError('')
    room.start().catch((caught: Error) => setError(caught.message))
    return () => { for (const unsubscribe of off) unsubscribe(); room.close() }
  }, [api, me.id, name])
  return { session: session?.room === name ? session : undefined, error, setError }
}
