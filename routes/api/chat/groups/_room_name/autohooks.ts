import type { FastifyInstance } from 'fastify'

/** Routes under a room name see `request.room`; a room the caller may not know of answers 404. */
export default async function (fastify: FastifyInstance) {
  fastify.addHook('preHandler', fastify.loadRoom)
}
