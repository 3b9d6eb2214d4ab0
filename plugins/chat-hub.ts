import websocket from '@fastify/websocket'
import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import { ChatHub } from '../src/chat/hub.js'
import { CloseCode } from '../src/chat/session.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatHub: ChatHub
  }
}

/** Frames over this size close the socket with 1009 (the API's limit). */
const MAX_FRAME_BYTES = 64 * 1024
const CLOSE_SPREAD_MS = 1000
const CLOSING_BODY = JSON.stringify({ detail: 'The server is shutting down: reconnect, with last_rev, to another instance or in a moment.', code: 'unavailable' })
const REFUSED_WHILE_CLOSING = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
  `Retry-After: 1\r\nContent-Length: ${Buffer.byteLength(CLOSING_BODY)}\r\n\r\n${CLOSING_BODY}`

/** The WebSocket server and this instance's sockets by room. */
export default fp(async function chatHub (fastify) {
  const { broker, config, log, roomsRepository, messagesRepository, socketAccess } = fastify
  const hub = new ChatHub({
    broker,
    log,
    access: socketAccess.cache,
    store: {
      position: roomsRepository.position,
      lastRevs: roomsRepository.lastRevs,
      membership: socketAccess.membership,
      after: messagesRepository.after,
      changedAfter: messagesRepository.changedAfter
    },
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    typingIntervalMs: config.TYPING_INTERVAL_MS,
    // In one process no event can be lost; between instances the periodic check is the safety net.
    gapCheckIntervalMs: broker.kind === 'redis' ? config.GAP_CHECK_INTERVAL_MS : 0,
    messageRate: config.MESSAGE_RATE_PER_SECOND,
    messageBurst: config.MESSAGE_BURST,
    maxSocketsPerUser: config.MAX_SOCKETS_PER_USER,
    readIntervalMs: config.READ_INTERVAL_MS
  })
  fastify.decorate('chatHub', hub)
  // Read at scrape time: nothing on the per-socket path. Made for its registration in the registry.
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'chat_sockets_open',
    help: 'Open chat sockets on this instance',
    registers: [fastify.metrics.registry],
    collect () { this.set(hub.size) }
  })

  await fastify.register(websocket, {
    options: {
      maxPayload: MAX_FRAME_BYTES,
      // Browsers send the token as `Sec-WebSocket-Protocol: chat, token.<t>`; the server answers `chat`.
      handleProtocols: (protocols) => protocols.has('chat') ? 'chat' : false
    },
    // Shutdown: every socket gets 1001 (spread over a second), then the server stops; in-flight sends commit
    // before the database closes (the messages repository waits for them).
    preClose (done) {
      // Upgrades from now on are refused at once. Routed through fastify while it closes, each would get a 503 on
      // a connection that nothing ends, and the server would wait for it until the shutdown timeout.
      this.server.removeAllListeners('upgrade')
      this.server.on('upgrade', (_request, socket) => { socket.end(REFUSED_WHILE_CLOSING) })
      hub.closeAll(CloseCode.goingAway, 'server shutting down', CLOSE_SPREAD_MS)
        .finally(() => this.websocketServer.close(() => done()))
    }
  })
}, { name: 'chat-hub', dependencies: ['broker', 'config', 'metrics', 'rooms-repository', 'messages-repository', 'access-cache'] })
