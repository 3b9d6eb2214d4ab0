import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toUser } from '../../../../src/db/mappers.js'
import { serveConnection } from '../../../../src/chat/connection.js'
import { releaseUpgrade } from '../../../../src/chat/release-upgrade.js'
import { HttpError } from '../../../../src/lib/http-error.js'
import { RoomName } from '../../../../src/schemas/common.js'
import { errors } from '../../../../src/schemas/errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Gives back the socket admission of an upgrade that was never served. */
    releaseAdmission: (() => void) | null
  }
}

const chatSocket: FastifyPluginAsyncTypebox = async (fastify) => {
  const { chatHub, messagesRepository, config, requireMember } = fastify
  fastify.decorateRequest('releaseAdmission', null)
  // Shared by every socket of the route: nothing of the upgrade request stays with a socket (see releaseUpgrade).
  const deps = {
    hub: chatHub,
    log: fastify.log,
    bufferLimit: config.SOCKET_BUFFER_LIMIT,
    send: messagesRepository.send,
    markRead: messagesRepository.markRead
  }

  fastify.route({
    method: 'GET',
    url: '/',
    config: { socketToken: true },
    schema: {
      tags: ['socket'],
      security: [{ Token: [] }, { TokenQuery: [] }],
      operationId: 'chatSocket',
      summary: 'Upgrade to the room\'s WebSocket (see the AsyncAPI document for its frames)',
      description: 'The token comes from `?token=`, the Authorization header, or `Sec-WebSocket-Protocol: chat, token.<t>`. ' +
        'With `last_rev`, every message changed after that rev is sent first (as `message` when new to the client, else ' +
        '`message_updated`), then live frames; with `last_seq` (0.1), every stored message after it. Not both. ' +
        'Refusals come before the upgrade.',
      params: Type.Object({ room_name: RoomName }),
      querystring: Type.Object({
        token: Type.Optional(Type.String({ maxLength: 256 })),
        last_seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
        last_rev: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))
      }, { additionalProperties: false }),
      response: { 101: Type.Null({ description: 'Switching to the WebSocket protocol' }), ...errors(400, 401, 403, 404, 429, 500, 503) }
    },
    // Membership is checked here, before the upgrade, so a refusal is an HTTP status with the JSON error body.
    preHandler: [async (request) => {
      if (request.query.last_seq !== undefined && request.query.last_rev !== undefined) {
        throw new HttpError(400, 'validation_error', 'Resume with last_seq or last_rev, not both.',
          [{ field: '/last_rev', message: 'must not be given with last_seq' }])
      }
    }, requireMember, async (request, reply) => {
      // A plain GET is answered 400 by the handler below, and holds no socket.
      if (!request.ws) return
      // Counted now, before the upgrade: handshakes in flight at once cannot pass the limit together.
      if (!chatHub.admit(request.user.id)) {
        // Every 429 says when to retry: by then heartbeats have closed any of the user's sockets that are dead.
        reply.header('retry-after', Math.ceil((2 * config.HEARTBEAT_INTERVAL_MS) / 1000))
        throw new HttpError(429, 'throttled', `At most ${config.MAX_SOCKETS_PER_USER} open sockets per user.`)
      }
      // Given back if the connection ends before the socket is served (then its session gives it back).
      const userId = request.user.id
      const release = () => chatHub.release(userId)
      request.raw.socket.once('close', release)
      request.releaseAdmission = release
    }],
    handler: async () => {
      throw new HttpError(400, 'validation_error', 'This is a WebSocket endpoint: send an upgrade request.')
    },
    wsHandler: (socket, request) => {
      if (request.releaseAdmission !== null) request.raw.socket.removeListener('close', request.releaseAdmission)
      releaseUpgrade(socket, request)
      const { room, user, tokenId } = request
      const context = {
        user: toUser(user),
        tokenId,
        roomId: room.id,
        roomName: room.name,
        lastSeqAtUpgrade: room.lastSeq,
        lastRevAtUpgrade: room.lastRev
      }
      serveConnection(socket, context, { lastSeq: request.query.last_seq, lastRev: request.query.last_rev }, deps)
    }
  })
}

export default chatSocket
