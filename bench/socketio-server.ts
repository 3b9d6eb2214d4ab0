/**
 * The Socket.IO peer: what the usual library does with the same load, in memory and storing nothing. WebSocket
 * transport only (no long-polling), the default in-memory adapter, and one `io.to(room).emit('message', frame)` per
 * send, which Socket.IO encodes once for the whole room. The frames are the API's (docs/api.md), each as the data of
 * a `message` event: `42["message",{"type":"message",…}]` on the wire (bench/lib/swarm.ts unwraps them). The same
 * minimal REST as the bare baseline for the load generator's setup (bench/lib/peer-rest.ts). A devDependency only.
 *
 *   PORT=9000 node --import tsx bench/socketio-server.ts
 */
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { listen, peerState } from './lib/peer-rest.js'

const PONG = { type: 'pong' }
const peer = peerState((room) => room)

const server = createServer((req, res) => { void peer.handle(req, res) })
const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 64 * 1024 })

io.on('connection', (socket) => {
  const room = peer.rooms.get(String(socket.handshake.query.room))
  const user = peer.users.get(String(socket.handshake.query.token))
  if (room === undefined || user === undefined) return socket.disconnect(true)
  void socket.join(room.name)
  socket.on('message', (frame: any) => {
    if (frame?.type === 'ping') return socket.emit('message', PONG)
    const message = peer.message(room, user, frame)
    if (message !== undefined) io.to(room.name).emit('message', message)
  })
})

listen(server, () => { io.disconnectSockets(true) })
