import fp from 'fastify-plugin'
import { publishCommitted } from '../src/chat/publish.js'
import { MessageWriter } from '../src/db/message-writer.js'
import { ReadWriter } from '../src/db/read-writer.js'
import { createMessagesRepository } from '../src/repositories/messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    messagesRepository: ReturnType<typeof createMessagesRepository>
  }
}

/** History queries, and the group-commit writer whose commits are published once, after the commit (src/chat/publish.ts). */
export default fp(async function messagesRepository (fastify) {
  const { broker, config, log, metrics } = fastify
  const publish = publishCommitted(broker, log)
  const writer = new MessageWriter(fastify.database.writer, config.BATCH_MAX_MESSAGES, (committed) => {
    const created = committed.filter((c) => c.kind === 'created').length
    if (created > 0) {
      metrics.messagesStored.inc(created)
      metrics.batchSize.observe(created)
    }
    if (created < committed.length) metrics.changeBatchSize.observe(committed.length - created)
    publish(committed)
  })
  const reads = new ReadWriter(fastify.database)
  fastify.decorate('messagesRepository', createMessagesRepository(fastify.database.orm, writer, reads))
  // Sends and read marks still queued when the server closes are committed before the database closes.
  fastify.addHook('onClose', async () => { await Promise.all([writer.idle(), reads.idle()]) })
}, { name: 'messages-repository', dependencies: ['db', 'broker', 'config', 'metrics'] })
