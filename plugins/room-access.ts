import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { notFound, permissionDenied } from '../src/lib/http-error.js'
import type { MemberRow, RoomRow } from '../src/db/schema/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler for routes under /:room_name: sets `request.room` and `request.member`, or answers 404. */
    loadRoom: (request: FastifyRequest) => Promise<void>
    /** `loadRoom` for a room named elsewhere in the request (search's `room`). */
    loadNamedRoom: (request: FastifyRequest, name: string) => Promise<void>
    /** A preHandler after `loadRoom`: membership is needed (members list, history, socket, ...), or 403. */
    requireMember: (request: FastifyRequest) => Promise<void>
    /**
     * A preHandler after `loadRoom`: the room's owner or staff only (settings, deletion, adding members), or 403.
     * A direct room has no owner: either of its members passes (what they may not do there: `refuseDirect`).
     */
    requireManager: (request: FastifyRequest) => Promise<void>
    /** A preHandler after `loadRoom`: 403 in a direct room, whose two members cannot be added to, leave or change it. */
    refuseDirect: (request: FastifyRequest) => Promise<void>
    /** Removes a member (leave, or removal by the owner); their live sockets in the room close with 4403. */
    removeMember: (roomId: number, userId: number) => Promise<boolean>
  }
  interface FastifyRequest {
    /** Its members are not counted here: every page and socket under the room would pay for a count. */
    room: RoomRow
    member: MemberRow | null
  }
}

const ROOM_NOT_FOUND = 'No room with that name.'

export default fp(async function roomAccess (fastify) {
  const { roomsRepository, chatHub } = fastify
  fastify.decorateRequest('room', null as unknown as RoomRow)
  fastify.decorateRequest('member', null)

  fastify.decorate('loadRoom', async function loadRoom (request: FastifyRequest) {
    await fastify.loadNamedRoom(request, (request.params as { room_name: string }).room_name)
  })

  fastify.decorate('loadNamedRoom', async function loadNamedRoom (request: FastifyRequest, name: string) {
    // Read by `authenticate` with the token (one round trip for both); looked up here only if it was not.
    const { room, member } = request.roomLookup ?? await roomsRepository.findWithMember(name, request.user.id) ??
      { room: undefined, member: null }
    // A private room does not exist for those outside it (staff aside; a direct room is its two members' only):
    // same answer as a name never created.
    if (room === undefined || (room.isPrivate && member === null && (!request.user.isStaff || room.directLow !== null))) {
      throw notFound(ROOM_NOT_FOUND)
    }
    request.room = room
    request.member = member
  })

  // Async, as hooks must be: a hook that neither returns a promise nor calls `done` never ends.
  fastify.decorate('requireMember', async function requireMember (request: FastifyRequest) {
    if (request.member === null) throw permissionDenied('You are not a member of this room.')
  })

  fastify.decorate('requireManager', async function requireManager (request: FastifyRequest) {
    if (request.room.directLow !== null && request.member !== null) return
    if (request.room.ownerId !== request.user.id && !request.user.isStaff) {
      throw permissionDenied('Only the room owner or staff may do this.')
    }
  })

  fastify.decorate('refuseDirect', async function refuseDirect (request: FastifyRequest) {
    if (request.room.directLow !== null) throw permissionDenied('A direct room keeps its two members and its settings.')
  })

  fastify.decorate('removeMember', async function removeMember (roomId: number, userId: number) {
    const removed = await roomsRepository.removeMember(roomId, userId)
    if (removed) chatHub.revokeAccess(roomId, userId)
    return removed
  })
}, { name: 'room-access', dependencies: ['rooms-repository', 'auth', 'chat-hub'] })
