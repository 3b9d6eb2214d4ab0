import type { FastifyInstance } from 'fastify'
import { checkUpgrade } from '../../src/lib/upgrade-check.js'

/**
 * Every route under /ws needs a well-formed handshake, then a token (header, `?token=` or subprotocol), checked
 * before the upgrade.
 */
export default async function (fastify: FastifyInstance) {
  fastify.addHook('onRequest', checkUpgrade)
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', fastify.limits.restPerToken)
}
