import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'

/**
 * What the peers (the bare `ws` baseline and the Socket.IO server) share: the users and rooms in memory, just enough
 * REST for the load generator's setup (register, create room, join, healthz), and the message frame of the API
 * (docs/api.md), with its seq assigned in memory. Nothing is stored.
 */
export interface User { id: number, username: string, first_name: string, last_name: string }
export interface Room { id: number, name: string, seq: number }

export function peerState<R extends Room> (newRoom: (room: Room) => R) {
  const users = new Map<string, User>() // by token
  const rooms = new Map<string, R>()
  let nextUserId = 1
  let nextRoomId = 1
  let nextMessageId = 1

  const userOf = (req: IncomingMessage) => users.get(/^Token (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
  const roomBody = (room: R) => ({ id: room.id, name: room.name, members_count: 0 })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/?$/, '/')
    if (req.method === 'GET' && path === '/healthz/') return reply(res, 200, { status: 'ok' })
    const body = await readJson(req)
    if (req.method === 'POST' && path === '/api/auth/register/') {
      const token = randomBytes(20).toString('hex')
      const user = { id: nextUserId++, username: String(body.username), first_name: '', last_name: '' }
      users.set(token, user)
      return reply(res, 201, { token, user })
    }
    const user = userOf(req)
    if (user === undefined) return reply(res, 401, { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' })
    if (req.method === 'POST' && path === '/api/chat/groups/') {
      const room = newRoom({ id: nextRoomId++, name: String(body.name), seq: 0 })
      rooms.set(room.name, room)
      return reply(res, 201, roomBody(room))
    }
    const join = /^\/api\/chat\/groups\/([^/]+)\/join\/$/.exec(path)
    const room = join === null ? undefined : rooms.get(decodeURIComponent(join[1]!))
    if (req.method === 'POST' && room !== undefined) return reply(res, 200, roomBody(room))
    reply(res, 404, { detail: 'Not found.', code: 'not_found' })
  }

  /** The broadcast of a send frame, or undefined for a frame that is not a send. */
  function message (room: R, sender: User, frame: any) {
    if ((frame?.type ?? 'message') !== 'message' || typeof frame.message !== 'string') return undefined
    return {
      type: 'message',
      id: nextMessageId++,
      room: room.name,
      seq: ++room.seq,
      message: frame.message,
      message_type: frame.message_type ?? 'text',
      sender,
      created_at: new Date().toISOString(),
      client_id: frame.client_id ?? null
    }
  }

  return { users, rooms, handle, message }
}

function reply (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function readJson (req: IncomingMessage): Promise<any> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      try { resolve(chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'))) } catch { resolve({}) }
    })
  })
}

/** Listens on PORT (9000) and HOST (127.0.0.1); on SIGTERM or SIGINT, `closeSockets`, then the server closes. */
export function listen (server: import('node:http').Server, closeSockets: () => void): void {
  server.listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '127.0.0.1')
  const stop = () => {
    closeSockets()
    server.close(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
