import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { unavailable } from '../src/lib/http-error.js'
import { errors } from '../src/schemas/errors.js'

const Status = Type.Object({ status: Type.Literal('ok') })
const CHECK_TIMEOUT_MS = 2000

/** A readiness probe answers quickly: a dependency that does not answer in time counts as down. */
const within = (check: Promise<void>) => Promise.race([
  check,
  new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref())
])

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const { database, broker } = fastify

  fastify.get('/healthz', {
    schema: { tags: ['health'], operationId: 'healthz', summary: 'The process is up', response: { 200: Status } }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/readyz', {
    schema: {
      tags: ['health'],
      operationId: 'readyz',
      summary: 'The database and the broker are reachable',
      response: { 200: Status, ...errors(503) }
    }
  }, async () => {
    const [db, brokerCheck] = await Promise.allSettled([within(database.ping()), within(broker.ping())])
    const down = [db.status === 'rejected' ? 'database' : '', brokerCheck.status === 'rejected' ? 'broker' : '']
      .filter(Boolean)
    if (down.length > 0) throw unavailable(`Unavailable: ${down.join(', ')}.`)
    return { status: 'ok' as const }
  })
}

export default health
