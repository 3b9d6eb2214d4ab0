import WebSocket from 'ws'
import { ChatApi, RoomSession, type ConnectionStatus, type RoomSessionOptions, type WebSocketConstructor } from '../../client/index.js'
import { createRoom, register, type Account } from './client.js'
import { startServer } from './server.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/** A room session of the client library as a Node app makes one: `ws` as the WebSocket, the token in the header. */
export function session (t: Teardown, base: string, account: Account, room: string,
  options: Partial<RoomSessionOptions> = {}): RoomSession {
  const api = new ChatApi({ baseUrl: base, token: account.token })
  const made = new RoomSession({
    api,
    room,
    userId: account.user.id,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 50, maxMs: 500 },
    ...options
  })
  t.teardown(() => made.close())
  return made
}

/** Waits (bounded) until `check` holds, re-checking on each of the session's events. */
export async function until<T> (room: RoomSession, what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const first = check()
  if (first !== undefined && first !== false) return first
  return await new Promise<T>((resolve, reject) => {
    const unsubscribe: Array<() => void> = []
    const done = (fn: () => void) => { clearTimeout(timer); for (const off of unsubscribe) off(); fn() }
    const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${what}; status ${JSON.stringify(room.status)}`))), timeoutMs)
    const again = () => {
      const result = check()
      if (result !== undefined && result !== false) done(() => resolve(result))
    }
    unsubscribe.push(room.on('status', again), room.on('pending', again), room.store.on('change', again))
  })
}

/** Resolves with the status once the session's connection reaches `state`. */
export const reaches = (room: RoomSession, state: ConnectionStatus['state'], timeoutMs?: number) =>
  until(room, `state ${state}`, () => room.status.state === state && room.status, timeoutMs)

/** Records every status a session goes through. */
export function statuses (room: RoomSession): ConnectionStatus[] {
  const seen: ConnectionStatus[] = []
  room.on('status', (status) => seen.push(status))
  return seen
}

/** A server, its room's owner, and a started session of theirs whose socket is open. */
export async function openRoom (t: Teardown, options: Partial<RoomSessionOptions> = {}) {
  const server = await startServer(t)
  const owner = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const chat = session(t, server.url, owner, room.name, options)
  const seen = statuses(chat)
  await chat.start()
  await reaches(chat, 'open')
  return { server, owner, room, chat, seen }
}
