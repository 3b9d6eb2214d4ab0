import fp from 'fastify-plugin'
import { createUsersRepository } from '../src/repositories/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    usersRepository: ReturnType<typeof createUsersRepository>
  }
}

export default fp(async function usersRepository (fastify) {
  fastify.decorate('usersRepository', createUsersRepository(fastify.database.orm,
    (error) => fastify.log.warn({ err: error }, 'could not update a token\'s last_used_at')))
}, { name: 'users-repository', dependencies: ['db'] })
