import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toUser } from '../../../../../src/db/mappers.js'
import { conflict, notFound, unavailable } from '../../../../../src/lib/http-error.js'
import { RoomName, Username } from '../../../../../src/schemas/common.js'
import { errors } from '../../../../../src/schemas/errors.js'
import { Member, UserRef, UsernameBody } from '../../../../../src/schemas/users.js'

const members: FastifyPluginAsyncTypebox = async (fastify) => {
  const { broker, roomsRepository, usersRepository, removeMember, requireMember, requireManager, refuseDirect } = fastify
  const tags = ['members']
  const security = [{ Token: [] }]

  fastify.get('/members/', {
    schema: {
      tags,
      security,
      operationId: 'listGroupMembers',
      summary: 'The members of a room (members only), each with their read position and whether they are online',
      params: Type.Object({ room_name: RoomName }),
      response: { 200: Type.Array(Type.Ref(Member)), ...errors(400, 401, 403, 404, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request) => {
    const members = await roomsRepository.members(request.room.id)
    const online = await broker.online(request.room.id, members.map((member) => member.id)).catch((error: unknown) => {
      request.log.warn({ err: error }, 'presence lookup failed')
      throw unavailable('Presence is unavailable (the broker is down). Retry later.')
    })
    return members.map((member) => ({ ...toUser(member), last_read_seq: member.lastReadSeq, online: online.has(member.id) }))
  })

  fastify.post('/members/', {
    schema: {
      tags,
      security,
      operationId: 'addGroupMember',
      summary: 'Add a user to a room (owner or staff): the way into a private room',
      params: Type.Object({ room_name: RoomName }),
      body: UsernameBody,
      response: { 201: UserRef, ...errors(400, 401, 403, 404, 409, 413, 429, 500, 503) }
    },
    preHandler: [refuseDirect, requireManager]
  }, async (request, reply) => {
    const user = await usersRepository.findByUsername(request.body.username)
    if (user === undefined) throw notFound('No user with that username.')
    if (!await roomsRepository.addMember(request.room.id, user.id)) throw conflict('That user is already a member.')
    return reply.code(201).send(toUser(user))
  })

  fastify.delete('/members/:username/', {
    schema: {
      tags,
      security,
      operationId: 'removeGroupMember',
      summary: 'Remove a member (owner or staff), or yourself; their live sockets in the room close with 4403',
      params: Type.Object({ room_name: RoomName, username: Username }),
      response: { 204: Type.Null({ description: 'Removed' }), ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: refuseDirect
  }, async (request, reply) => {
    const { username } = request.params
    if (username !== request.user.username) await requireManager(request)
    const user = username === request.user.username ? request.user : await usersRepository.findByUsername(username)
    if (user === undefined || !await removeMember(request.room.id, user.id)) {
      throw notFound('That user is not a member of this room.')
    }
    return reply.code(204).send(null)
  })
}

export default members
