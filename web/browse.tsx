import { useEffect, useState } from 'preact/hooks'
import type { ChatApi, ChatRoomListItem } from '../client/index.js'
import { go } from './route.js'

/** Public rooms to join, a form to create one, and one to start a direct message. */
export function Browse ({ api, onChange }: { api: ChatApi, onChange: () => void }) {
  const [search, setSearch] = useState('')
  const [rooms, setRooms] = useState<ChatRoomListItem[]>([])
  const [error, setError] = useState('')
  useEffect(() => {
    let stopped = false
    api.allGroups({ search, limit: 50 }).then((page) => { if (!stopped) setRooms(page.results) },
      (caught: Error) => { if (!stopped) setError(caught.message) })
    return () => { stopped = true }
  }, [api, search])
  const attempt = async (fn: () => Promise<string>) => {
    setError('')
    try {
      const name = await fn()
      onChange()
      go({ kind: 'room', name })
    } catch (caught) {
      setError((caught as Error).message)
    }
  }
  const join = (name: string) => { void attempt(async () => (await api.join(name)).name) }
  const field = (event: Event, name: string) =>
    String(new FormData(event.currentTarget as HTMLFormElement).get(name) ?? '').trim()
  return (
    <section class='pane browse' aria-labelledby='browse-title'>
      <h2 id='browse-title'>Rooms</h2>
      {error !== '' && <p role='alert' class='error'>{error}</p>}
      <form
        class='inline' aria-label='Create a room' onSubmit={(event) => {
          event.preventDefault()
          const name = field(event, 'name')
          const isPrivate = new FormData(event.currentTarget).get('private') !== null
          void attempt(async () => (await api.createRoom({ name, is_private: isPrivate })).name)
        }}
      >
        <label>New room <input name='name' required pattern='[A-Za-z0-9_.\-]+' maxLength={100} /></label>
        <label class='check'><input type='checkbox' name='private' /> private</label>
        <button type='submit'>Create</button>
      </form>
      <form
        class='inline' aria-label='Start a direct message' onSubmit={(event) => {
          event.preventDefault()
          const username = field(event, 'username')
          void attempt(async () => (await api.direct(username)).room.name)
        }}
      >
        <label>Direct message to <input name='username' required /></label>
        <button type='submit'>Start</button>
      </form>
      <label>Find a room <input type='search' value={search} onInput={(event) => setSearch(event.currentTarget.value)} /></label>
      <ul class='browse-list'>
        {rooms.map((room) => (
          <li key={room.id}>
            <span class='title'>{room.name}</span>
            <span class='muted'>{room.members_count} members{room.description !== '' ? ` · ${room.description}` : ''}</span>
            {room.is_member && <button type='button' onClick={() => go({ kind: 'room', name: room.name })}>Open</button>}
            {!room.is_member && <button type='button' aria-label={`Join ${room.name}`} onClick={() => join(room.name)}>Join</button>}
          </li>
        ))}
      </ul>
    </section>
  )
}
