import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toRoom } from '../../../../src/db/mappers.js'
import { HttpError, notFound } from '../../../../src/lib/http-error.js'
import { errors } from '../../../../src/schemas/errors.js'
import { Room } from '../../../../src/schemas/rooms.js'
import { UsernameBody } from '../../../../src/schemas/users.js'

/** Direct messages: one private room per pair of users, made on first use. */
const direct: FastifyPluginAsyncTypebox = async (fastify) => {
  const { roomsRepository, usersRepository } = fastify

  fastify.post('/', {
    schema: {
      tags: ['rooms'],
      security: [{ Token: [] }],
      operationId: 'openDirectRoom',
      summary: 'The direct room of the caller and another user: 201 when made now, 200 when it exists',
      description: 'A private room of exactly these two, with a name the server picks and `is_direct: true`. ' +
        'The same pair always gets the same room, even when both ask at once on different instances.',
      body: UsernameBody,
      response: { 200: Type.Ref(Room), 201: Type.Ref(Room), ...errors(400, 401, 404, 413, 429, 500, 503) }
    }
  }, async (request, reply) => {
    const { username } = request.body
    if (username === request.user.username) {
      throw new HttpError(400, 'validation_error', '/username: a direct room is with someone else.',
        [{ field: '/username', message: 'must not be your own username' }])
    }
    const peer = await usersRepository.findByUsername(username)
    if (peer === undefined) throw notFound('No user with that username.')
    const { room, created } = await roomsRepository.direct(request.user.id, peer.id)
    return reply.code(created ? 201 : 200).send(toRoom(room))
  })
}

export default direct
