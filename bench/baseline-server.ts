/**
 * The no-persistence baseline: a bare `ws` server that speaks the API's frames (docs/api.md) and stores nothing. It is the
 * limit on this machine, so every benchmark reports our figures as a ratio to it, measured in the same run.
 * It assigns a per-room seq in memory and builds each broadcast frame ONCE, header included (`WireFrame`, as ours), and
 * corks every socket it writes to for the rest of the tick (`corkForTick`, as ours): the frames a socket is sent in
 * one tick leave in one `writev`, so that the baseline batches its writes as our server does and its figures are
 * the limit. `BASELINE_CORK=0` runs it as it was before: one `ws.send` (one write) per frame per socket.
 * Just enough REST for the load generator's setup: register, create room, join, healthz (bench/lib/peer-rest.ts).
 *
 *   PORT=9000 node --import tsx bench/baseline-server.ts
 */
import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'
import { corkForTick, sendText, WireFrame } from '../src/chat/wire.js'
import { listen, peerState, type Room, type User } from './lib/peer-rest.js'

interface WsRoom extends Room { sockets: Set<WebSocket> }

const TEXT = { binary: false }
const PONG = Buffer.from('{"type":"pong"}')
const CORK = process.env.BASELINE_CORK !== '0'
const peer = peerState<WsRoom>((room) => ({ ...room, sockets: new Set() }))

const server = createServer((req, res) => { void peer.handle(req, res) })
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const room = peer.rooms.get(decodeURIComponent(/^\/ws\/chat\/([^/]+)\/?$/.exec(url.pathname)?.[1] ?? ''))
  const user = peer.users.get(url.searchParams.get('token') ?? '')
  if (room === undefined || user === undefined) {
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    return
  }
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, room, user))
})

function serve (ws: WebSocket, room: WsRoom, sender: User): void {
  room.sockets.add(ws)
  ws.on('close', () => room.sockets.delete(ws))
  ws.on('error', () => {})
  ws.on('message', (data) => {
    let frame: any
    try { frame = JSON.parse(data.toString()) } catch { return }
    if (frame.type === 'ping') return ws.send(PONG, TEXT)
    const message = peer.message(room, sender, frame)
    if (message === undefined) return
    // Built once per broadcast: the same bytes go to every socket.
    const text = JSON.stringify(message)
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

listen(server, () => { for (const client of wss.clients) client.terminate() })
