import type { FastifyInstance } from 'fastify'

/** Every route under /ws needs a token (header, `?token=` or subprotocol), checked before the upgrade. */
export default async function (fastify: FastifyInstance) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', fastify.limits.restPerToken)
}
