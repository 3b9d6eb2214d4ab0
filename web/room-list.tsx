import { useEffect, useState } from 'preact/hooks'
import type { ChatApi, ChatRoom, User } from '../client/index.js'
import { href, type Route } from './route.js'

const POLL_MS = 3000

/** A room's name as people see it: the other person for a direct room. */
function roomTitle (room: ChatRoom, me?: User): string {
  if (room.is_direct === true && room.peer != null) return `@${room.peer.username}`
  return room.is_direct === true && me !== undefined ? 'Direct message' : room.name
}

/** Newest activity first, as the 0.2 server already orders it; a server without `last_message` keeps its order. */
const activity = (room: ChatRoom) => Date.parse(room.last_message?.created_at ?? room.created_at)

/**
 * The rooms the user joined, with unread and mention badges and the last message. Polled (every 3 s while the
 * page is visible, and at once when `refresh` changes): one socket per open room, not one per listed room.
 */
export function RoomList ({ api, me, route, refresh }: { api: ChatApi, me: User, route: Route, refresh: number }) {
  const [rooms, setRooms] = useState<ChatRoom[] | undefined>()
  const [error, setError] = useState('')
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const list = await api.rooms()
          if (!stopped) { setRooms([...list].sort((a, b) => activity(b) - activity(a))); setError('') }
        } catch (caught) {
          if (!stopped) setError((caught as Error).message)
        }
      }
      if (!stopped) timer = setTimeout(() => { void load() }, POLL_MS)
    }
    void load()
    return () => { stopped = true; clearTimeout(timer) }
  }, [api, refresh])
  const current = route.kind === 'room' ? route.name : undefined
  return (
    <nav aria-label='Rooms' class='room-list'>
      {error !== '' && <p role='alert' class='error'>{error}</p>}
      {rooms?.length === 0 && <p class='muted'>No rooms yet: browse or create one.</p>}
      <ul>
        {rooms?.map((room) => {
          const unread = room.unread_count ?? 0
          const mentions = room.unread_mentions ?? 0
          const last = room.last_message
          return (
            <li key={room.id}>
              <a
                href={href({ kind: 'room', name: room.name })} aria-current={room.name === current ? 'page' : undefined}
                data-room={room.name} class={unread > 0 ? 'unread' : ''}
              >
                <span class='title'>{roomTitle(room, me)}</span>
                {mentions > 0 && <span class='badge mention' aria-label={`${mentions} unread mentions`}>@{mentions}</span>}
                {unread > 0 && <span class='badge' data-unread={unread} aria-label={`${unread} unread`}>{unread}</span>}
                {last != null && <span class='last'>{last.sender.username}: {last.message}</span>}
              </a>
            </li>
          )
        })}
      </ul>
    </nav>
  )
}
