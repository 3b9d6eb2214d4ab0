import fastifyRedis from '@fastify/redis'
import fp from 'fastify-plugin'

/**
 * The Redis client (`fastify.redis`) that the broker and the rate limits share, opened only when REDIS_URL is set:
 * without it the service runs as one process and nothing uses Redis, so the plugins that would use it check
 * `config.REDIS_URL`. @fastify/redis waits for the connection at boot (a bad URL fails the start) and closes it.
 */
export default fp(async function redis (fastify) {
  const { REDIS_URL } = fastify.config
  if (REDIS_URL === undefined) return
  // Commands fail at once while Redis is down (no offline queue): a publish must not wait, the local sockets still
  // get every message, and other instances catch up from the database.
  await fastify.register(fastifyRedis, {
    url: REDIS_URL,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    // The publishes of one committed batch leave in one write.
    enableAutoPipelining: true
  })
}, { name: 'redis', dependencies: ['config'] })
