import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { AccessCache, type LookupOutcome } from '../src/chat/access-cache.js'
import { hashToken } from '../src/lib/tokens.js'
import type { createRoomsRepository } from '../src/repositories/rooms.js'
import type { createUsersRepository } from '../src/repositories/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** What a socket upgrade reads (token, room, membership), from a short-lived cache: see src/chat/access-cache.ts. */
    socketAccess: ReturnType<typeof createSocketAccess>
  }
}

function createSocketAccess (cache: AccessCache, users: Pick<ReturnType<typeof createUsersRepository>, 'authenticate'>,
  rooms: Pick<ReturnType<typeof createRoomsRepository>, 'membership'>) {
  return {
    cache,
    /** `usersRepository.authenticate` for an upgrade; only an admission (room and membership found) is kept. */
    authenticate (token: string, roomName: string) {
      return cache.get(`t:${hashToken(token)}:${roomName}`, () => users.authenticate(token, roomName), (found) =>
        found?.inRoom?.room !== undefined && found.inRoom.member !== null
          ? { tokenId: found.tokenId, roomId: found.inRoom.room.id, userId: found.user.id }
          : undefined)
    },
    /** The check a joining socket makes (see ChatHub.join); only 'member' is kept. */
    membership (roomId: number, userId: number) {
      return cache.get(`m:${roomId}:${userId}`, () => rooms.membership(roomId, userId),
        (status) => status === 'member' ? { roomId, userId } : undefined)
    }
  }
}

export default fp(async function accessCache (fastify) {
  const { config, broker, usersRepository, roomsRepository, metrics } = fastify
  const lookups = new Counter({
    name: 'chat_socket_access_lookups_total',
    help: 'Socket upgrade lookups (token and room, membership at join) by how they were answered',
    labelNames: ['outcome'] as const,
    registers: [metrics.registry]
  })
  // Bound once: an upgrade does not hash the labels.
  const byOutcome = Object.fromEntries((['hit', 'shared', 'read', 'bypass'] as const)
    .map((outcome) => [outcome, lookups.labels({ outcome })])) as Record<LookupOutcome, ReturnType<typeof lookups.labels>>
  const cache = new AccessCache({
    ttlMs: config.ACCESS_CACHE_TTL_MS,
    maxEntries: config.ACCESS_CACHE_MAX_ENTRIES,
    live: broker.hearsControl,
    count: (outcome) => { byOutcome[outcome].inc() }
  })
  fastify.decorate('socketAccess', createSocketAccess(cache, usersRepository, roomsRepository))
}, { name: 'access-cache', dependencies: ['config', 'broker', 'metrics', 'users-repository', 'rooms-repository'] })
