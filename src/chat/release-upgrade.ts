import type { FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'

/**
 * @fastify/websocket (11.x) keeps each upgrade's request and reply for the socket's life: the 'error' listener it
 * adds to the socket closes over both, and the TCP socket keeps the ServerResponse it was assigned (with the
 * IncomingMessage and fastify's listeners on it). None of it is used once the handler has run, and it was most of
 * the memory of an idle socket (see docs/benchmarks.md, idle memory). Call it first in a wsHandler, which then adds its own 'error'
 * listener: that listener must terminate the socket, as the plugin's default error handler did.
 * @see https://github.com/fastify/fastify-websocket/pull/373 (the 'error' listener, added where request and reply are in scope)
 * @see https://github.com/fastify/fastify-websocket/pull/175 (the ServerResponse assigned to the upgraded TCP socket)
 */
export function releaseUpgrade (socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners('error')
  // The response that @fastify/websocket assigned to the TCP socket; Node's name for a socket's current response.
  const tcp = request.raw.socket as typeof request.raw.socket & { _httpMessage?: ServerResponse | null }
  if (tcp?._httpMessage != null) tcp._httpMessage.detachSocket(tcp)
}
