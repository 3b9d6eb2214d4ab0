import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toRoom } from '../../../../src/db/mappers.js'
import { errors } from '../../../../src/schemas/errors.js'
import { CreateRoomBody, Room } from '../../../../src/schemas/rooms.js'

const groups: FastifyPluginAsyncTypebox = async (fastify) => {
  const { roomsRepository } = fastify
  const tags = ['rooms']
  const security = [{ Token: [] }]

  fastify.get('/', {
    schema: {
      tags,
      security,
      operationId: 'listJoinedGroups',
      summary: 'The rooms the caller has joined (a plain array, by name)',
      response: { 200: Type.Array(Type.Ref(Room)), ...errors(401, 429, 500, 503) }
    }
  }, async (request) => (await roomsRepository.joined(request.user.id)).map(toRoom))

  fastify.post('/', {
    schema: {
      tags,
      security,
      operationId: 'createGroup',
      summary: 'Create a room; the caller is its owner and first member',
      body: CreateRoomBody,
      response: { 201: Type.Ref(Room), ...errors(400, 401, 409, 413, 429, 500, 503) }
    }
  }, async (request, reply) => {
    const { name, description, room_avatar: roomAvatar, is_private: isPrivate } = request.body
    const room = await roomsRepository.create(request.user.id, name, { description, roomAvatar, isPrivate })
    return reply.code(201).send(toRoom(room))
  })
}

export default groups
