import type { FastifyInstance } from 'fastify'

/** Every route under /api/chat needs a token. */
export default async function (fastify: FastifyInstance) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', fastify.limits.restPerToken)
}
