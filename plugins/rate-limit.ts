import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../src/lib/http-error.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Hooks that answer 429 `throttled` (with Retry-After) over a limit; see the README's configuration table. */
    limits: {
      /** register and login, per client IP */
      authPerIp: onRequestHookHandler
      /** login, per username (a preHandler: it needs the body) */
      loginPerUsername: onRequestHookHandler
      /** authenticated REST, per token (after `authenticate`) */
      restPerToken: onRequestHookHandler
    }
  }
}

const MINUTE = 60_000
const throttled = (seconds: number) =>
  new HttpError(429, 'throttled', `Request was throttled. Expected available in ${seconds} seconds.`)

/** Rate limits through @fastify/rate-limit, stored in Redis when there is one so every instance shares them. */
export default fp(async function limits (fastify) {
  const { config } = fastify
  await fastify.register(rateLimit, {
    global: false,
    // With Redis, limits hold across instances; when Redis is down, requests are let through rather than refused.
    ...(fastify.hasDecorator('redis') ? { redis: fastify.redis, skipOnError: true, nameSpace: `${config.REDIS_PREFIX}rl:` } : {})
  })
  // Each limit is checked by its own hook: the hooks of `fastify.rateLimit()` share one per-request "already ran"
  // flag, so on login the per-username limit, after the per-IP one, was never counted.
  const limit = (name: string, max: number, key: (request: FastifyRequest) => string): onRequestHookHandler => {
    const check = fastify.createRateLimit({ max, timeWindow: MINUTE, keyGenerator: (request) => `${name}:${key(request)}` })
    return async function rateLimited (request, reply) {
      const result = await check(request)
      if (result.isAllowed || !result.isExceeded) return
      reply.header('retry-after', result.ttlInSeconds)
      throw throttled(result.ttlInSeconds)
    }
  }

  fastify.decorate('limits', {
    authPerIp: limit('auth-ip', config.RATE_LIMIT_AUTH_PER_IP, (request) => request.ip),
    loginPerUsername: limit('login-user', config.RATE_LIMIT_LOGIN_PER_USERNAME, (request) =>
      String((request.body as { username?: unknown } | undefined)?.username ?? '').toLowerCase()),
    restPerToken: limit('token', config.RATE_LIMIT_REST_PER_TOKEN, (request) => String(request.tokenId))
  })
}, { name: 'rate-limit', dependencies: ['config', 'broker'] })
