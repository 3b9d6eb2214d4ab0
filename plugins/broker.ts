import fastifyRedis from '@fastify/redis'
import fp from 'fastify-plugin'
import { createMemoryBroker } from '../src/broker/memory.js'
import { createRedisBroker } from '../src/broker/redis.js'
import type { Broker } from '../src/broker/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
  }
}

/**
 * Fans room events out to the instances with sockets in the room: Redis pub/sub when REDIS_URL is set (several
 * instances), in-process otherwise (one instance).
 */
export default fp(async function broker (fastify) {
  const { REDIS_URL, REDIS_PREFIX, INSTANCE_HEARTBEAT_MS } = fastify.config
  let broker: Broker
  if (REDIS_URL === undefined) {
    broker = createMemoryBroker()
  } else {
    // Commands fail at once while Redis is down (no offline queue): a publish must not wait, the local
    // sockets still get every message, and other instances catch up from the database.
    await fastify.register(fastifyRedis, {
      url: REDIS_URL,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      // The publishes of one committed batch leave in one write.
      enableAutoPipelining: true
    })
    const subscriber = fastify.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null })
    broker = await createRedisBroker({
      publisher: fastify.redis,
      subscriber,
      prefix: REDIS_PREFIX,
      log: fastify.log,
      livenessIntervalMs: INSTANCE_HEARTBEAT_MS
    })
    fastify.log.info('broker: redis')
  }
  fastify.decorate('broker', broker)
  fastify.addHook('onClose', async () => { await broker.close() })
}, { name: 'broker', dependencies: ['config'] })
