import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toRoom } from '../../../../../src/db/mappers.js'
import { permissionDenied } from '../../../../../src/lib/http-error.js'
import { RoomParams } from '../../../../../src/schemas/common.js'
import { errors } from '../../../../../src/schemas/errors.js'
import { Room, UpdateRoomBody } from '../../../../../src/schemas/rooms.js'

const room: FastifyPluginAsyncTypebox = async (fastify) => {
  const { roomsRepository, chatHub, requireManager, refuseDirect } = fastify
  const tags = ['rooms']
  const security = [{ Token: [] }]
  const NoContent = Type.Null({ description: 'Done' })

  fastify.get('/', {
    schema: {
      tags,
      security,
      operationId: 'getGroup',
      summary: 'A room (404 for a private room the caller is not in)',
      params: RoomParams,
      response: { 200: Type.Ref(Room), ...errors(400, 401, 404, 429, 500, 503) }
    }
  }, async (request) => toRoom(await roomsRepository.byId(request.room.id, request.user.id)))

  fastify.patch('/', {
    schema: {
      tags,
      security,
      operationId: 'updateGroup',
      summary: "Change a room's description, avatar or privacy (owner or staff)",
      params: RoomParams,
      body: UpdateRoomBody,
      response: { 200: Type.Ref(Room), ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: [refuseDirect, requireManager]
  }, async (request) => {
    const { description, room_avatar: roomAvatar, is_private: isPrivate } = request.body
    return toRoom(await roomsRepository.update(request.room.id, request.user.id, { description, roomAvatar, isPrivate }))
  })

  fastify.delete('/', {
    schema: {
      tags,
      security,
      operationId: 'deleteGroup',
      summary: 'Delete a room and its history (owner or staff; either member of a direct room); its live sockets close with 4404',
      params: RoomParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: requireManager
  }, async (request, reply) => {
    await roomsRepository.remove(request.room.id)
    chatHub.revokeAccess(request.room.id, null)
    return reply.code(204).send(null)
  })

  fastify.post('/join/', {
    schema: {
      tags,
      security,
      operationId: 'joinGroup',
      summary: 'Join a public room; joining twice changes nothing',
      params: RoomParams,
      response: { 200: Type.Ref(Room), ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    }
  }, async (request) => {
    if (request.member === null) {
      // Staff can see a private room but get in only by being added, like anyone else.
      if (request.room.isPrivate) throw permissionDenied('This room is private: ask its owner to add you.')
      await roomsRepository.addMember(request.room.id, request.user.id)
    }
    return toRoom(await roomsRepository.byId(request.room.id, request.user.id))
  })

  fastify.post('/leave/', {
    schema: {
      tags,
      security,
      operationId: 'leaveGroup',
      summary: "Leave a room (not a direct one: 403); the caller's live sockets in it close with 4403",
      params: RoomParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: refuseDirect
  }, async (request, reply) => {
    await fastify.removeMember(request.room.id, request.user.id)
    return reply.code(204).send(null)
  })
}

export default room
