import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { authenticationFailed, notAuthenticated } from '../src/lib/http-error.js'
import { ErrorRef } from '../src/schemas/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ReturnType<typeof createMetrics>
  }
}

function createMetrics (registry: Registry) {
  return {
    registry,
    messagesStored: new Counter({ name: 'chat_messages_stored_total', help: 'Messages committed', registers: [registry] }),
    batchSize: new Histogram({
      name: 'chat_commit_batch_size',
      help: 'Messages per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry]
    }),
    changeBatchSize: new Histogram({
      name: 'chat_change_batch_size',
      help: 'Changes (edits, deletions, reactions: revs taken) per change transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry]
    }),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP responses by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry]
    })
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest()

/** An onRequest hook: with METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` may read the metrics. */
function metricsGuard (token: string | undefined) {
  // Compared as digests: equal lengths for timingSafeEqual, whatever was sent.
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`)
  return async (request: FastifyRequest) => {
    if (expected === undefined) return
    const given = request.headers.authorization
    if (given === undefined) throw notAuthenticated()
    if (!timingSafeEqual(digest(given), expected)) throw authenticationFailed()
  }
}

/** Prometheus metrics at /metrics: process defaults, HTTP responses, sockets and the message store. */
export default fp(async function metrics (fastify) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = createMetrics(registry)
  fastify.decorate('metrics', metrics)
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.inc({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode })
  })
  // Registered after swagger (a dependency), which documents only the routes added once it is there.
  fastify.get('/metrics', {
    onRequest: metricsGuard(fastify.config.METRICS_TOKEN),
    schema: {
      tags: ['health'],
      operationId: 'metrics',
      summary: 'Prometheus metrics, in its text format (with METRICS_TOKEN set: `Authorization: Bearer <METRICS_TOKEN>`)',
      // Per status: the metrics are text, a refusal is the JSON error body.
      response: {
        200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        401: { content: { 'application/json': { schema: ErrorRef } } }
      }
    }
  }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'metrics', dependencies: ['config', 'swagger'] })
