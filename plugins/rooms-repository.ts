import fp from 'fastify-plugin'
import { createRoomsRepository } from '../src/repositories/rooms.js'

declare module 'fastify' {
  interface FastifyInstance {
    roomsRepository: ReturnType<typeof createRoomsRepository>
  }
}

export default fp(async function roomsRepository (fastify) {
  fastify.decorate('roomsRepository', createRoomsRepository(fastify.database.orm))
}, { name: 'rooms-repository', dependencies: ['db'] })
