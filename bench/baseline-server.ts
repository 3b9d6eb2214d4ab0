/**
 * The no-persistence baseline: a bare `ws` server that speaks the API's frames (docs/api.md) and stores nothing. It is the
 * limit on this machine, so every benchmark reports our figures as a ratio to it, measured in the same run.
 * It assigns a per-room seq in memory and builds each broadcast frame ONCE, header included (`WireFrame`, as ours), and
 * corks every socket it writes to for the rest of the tick (`corkForTick`, as ours): the frames a socket is sent in
 * one tick leave in one `writev`, so that the baseline batches its writes as our server does and its figures are
 * the limit. `BASELINE_CORK=0` runs it as it was before: one `ws.send` (one write) per frame per socket.
 * Just enough REST for the load generator's setup: register, create room, join, healthz.
 *
 *   PORT=9000 node --import tsx bench/baseline-server.ts
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { WebSocketServer, type WebSocket } from 'ws'
import { corkForTick, sendText, WireFrame } from '../src/chat/wire.js'

interface User { id: number, username: string, first_name: string, last_name: string }
interface Room { id: number, name: string, seq: number, sockets: Set<WebSocket> }

const users = new Map<string, User>() // by token
const rooms = new Map<string, Room>()
let nextUserId = 1
let nextRoomId = 1
let nextMessageId = 1
const TEXT = { binary: false }
const PONG = Buffer.from('{"type":"pong"}')
const CORK = process.env.BASELINE_CORK !== '0'

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

const userOf = (req: IncomingMessage) => users.get(/^Token (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
const roomBody = (room: Room) => ({ id: room.id, name: room.name, members_count: 0 })

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
    const room = { id: nextRoomId++, name: String(body.name), seq: 0, sockets: new Set<WebSocket>() }
    rooms.set(room.name, room)
    return reply(res, 201, roomBody(room))
  }
  const join = /^\/api\/chat\/groups\/([^/]+)\/join\/$/.exec(path)
  const room = join === null ? undefined : rooms.get(decodeURIComponent(join[1]!))
  if (req.method === 'POST' && room !== undefined) return reply(res, 200, roomBody(room))
  reply(res, 404, { detail: 'Not found.', code: 'not_found' })
}

const server = createServer((req, res) => { void handle(req, res) })
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const room = rooms.get(decodeURIComponent(/^\/ws\/chat\/([^/]+)\/?$/.exec(url.pathname)?.[1] ?? ''))
  const user = users.get(url.searchParams.get('token') ?? '')
  if (room === undefined || user === undefined) {
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    return
  }
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, room, user))
})

function serve (ws: WebSocket, room: Room, sender: User): void {
  room.sockets.add(ws)
  ws.on('close', () => room.sockets.delete(ws))
  ws.on('error', () => {})
  ws.on('message', (data) => {
    let frame: any
    try { frame = JSON.parse(data.toString()) } catch { return }
    if (frame.type === 'ping') return ws.send(PONG, TEXT)
    if ((frame.type ?? 'message') !== 'message' || typeof frame.message !== 'string') return
    // Built once per broadcast: the same bytes go to every socket.
    const text = JSON.stringify({
      type: 'message',
      id: nextMessageId++,
      room: room.name,
      seq: ++room.seq,
      message: frame.message,
      message_type: frame.message_type ?? 'text',
      sender,
      created_at: new Date().toISOString(),
      client_id: frame.client_id ?? null
    })
    if (!CORK) {
      const bytes = Buffer.from(text)
      for (const socket of room.sockets) socket.send(bytes, TEXT)
      return
    }
    const wire = new WireFrame(text)
    for (const socket of room.sockets) {
      corkForTick(socket)
      sendText(socket, wire)
    }
  })
}

server.listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '127.0.0.1')
const stop = () => {
  for (const client of wss.clients) client.terminate()
  server.close(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
