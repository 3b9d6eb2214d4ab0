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
}, { name: 'broker', dependencies: ['config', 'redis'] })
