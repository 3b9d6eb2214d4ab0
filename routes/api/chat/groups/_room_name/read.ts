import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toUser } from '../../../../../src/db/mappers.js'
import { RoomName } from '../../../../../src/schemas/common.js'
import { errors } from '../../../../../src/schemas/errors.js'
import { ReadBody } from '../../../../../src/schemas/rooms.js'

/** The caller's read position over REST: what the socket's `read` frame does, for a client without a socket. */
const read: FastifyPluginAsyncTypebox = async (fastify) => {
  const { messagesRepository, chatHub, requireMember } = fastify

  fastify.post('/read/', {
    schema: {
      tags: ['rooms'],
      security: [{ Token: [] }],
      operationId: 'markGroupRead',
      summary: "Move the caller's read position forward (never back; clamped to the room's last seq)",
      description: 'Committed before the answer. Every socket in the room, the caller\'s own included, then gets a `read` frame ' +
        '(at most one per user and room per second; the latest position always arrives).',
      params: Type.Object({ room_name: RoomName }),
      body: ReadBody,
      response: { 204: Type.Null({ description: 'Done (also when the position did not move)' }), ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request, reply) => {
    const seq = await messagesRepository.markRead(request.room.id, request.user.id, request.body.seq, true)
    if (seq !== undefined) chatHub.announceRead(request.room.id, toUser(request.user), seq)
    return reply.code(204).send(null)
  })
}

export default read
