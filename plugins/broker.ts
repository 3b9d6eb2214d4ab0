import fp from 'fastify-plugin'
import { createMemoryBroker } from '../src/broker/memory.js'
import type { Broker } from '../src/broker/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    broker: Broker
  }
}

/** Fans room events out to the instances with sockets in the room. In-process for one instance. */
export default fp(async function broker (fastify) {
  const broker = createMemoryBroker()
  fastify.decorate('broker', broker)
  fastify.addHook('onClose', async () => { await broker.close() })
}, { name: 'broker', dependencies: ['config'] })
