import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { createMemoryCounter, createRedisCounter, type WindowCount } from '../src/lib/failure-counter.js'
import { HttpError } from '../src/lib/http-error.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Hooks that answer 429 `throttled` (with Retry-After) over a limit; see the README's configuration table. */
    limits: {
      /** register and login, per client IP */
      authPerIp: onRequestHookHandler
      /** login, per username: counts the attempt as failed, or refuses it (a preHandler: it needs the body) */
      loginPerUsername: onRequestHookHandler
      /** takes back the count of a login that succeeded */
      loginSucceeded: (request: FastifyRequest) => Promise<void>
      /** token checks, per client IP: refuses an address whose tokens keep failing, before the lookup */
      authFailuresPerIp: (request: FastifyRequest, reply?: FastifyReply) => Promise<void>
      /** counts a refused token against the client IP */
      authFailed: (request: FastifyRequest) => Promise<void>
      /** authenticated REST, per token (after `authenticate`) */
      restPerToken: onRequestHookHandler
    }
  }
}

const MINUTE = 60_000
// Past this many times the per-username limit of failures, a username's logins are refused from every address.
const LOGIN_HARD_CAP = 10
const throttled = (seconds: number) =>
  new HttpError(429, 'throttled', `Request was throttled. Expected available in ${seconds} seconds.`)

function refuse (reply: FastifyReply | undefined, seconds: number): never {
  reply?.header('retry-after', seconds)
  throw throttled(seconds)
}

const loginName = (request: FastifyRequest) =>
  String((request.body as { username?: unknown } | undefined)?.username ?? '').toLowerCase()

/** Rate limits through @fastify/rate-limit, stored in Redis when there is one so every instance shares them. */
export default fp(async function limits (fastify) {
  const { config } = fastify
  // Opened by plugins/redis.ts when REDIS_URL is set.
  const redis = config.REDIS_URL !== undefined ? fastify.redis : undefined
  await fastify.register(rateLimit, {
    global: false,
    // With Redis, limits hold across instances; when Redis is down, requests are let through rather than refused.
    ...(redis !== undefined ? { redis, skipOnError: true, nameSpace: `${config.REDIS_PREFIX}rl:` } : {})
  })
  // Each limit is checked by its own hook: the hooks of `fastify.rateLimit()` share one per-request "already ran"
  // flag, so on login the per-username limit, after the per-IP one, was never counted.
  // @see https://github.com/fastify/fastify-rate-limit/issues/129 (a second limiter on a request does not run)
  const limit = (name: string, max: number, key: (request: FastifyRequest) => string): onRequestHookHandler => {
    const check = fastify.createRateLimit({ max, timeWindow: MINUTE, keyGenerator: (request) => `${name}:${key(request)}` })
    return async function rateLimited (request, reply) {
      const result = await check(request)
      if (result.isAllowed || !result.isExceeded) return
      refuse(reply, result.ttlInSeconds)
    }
  }

  // Failures are read without being counted, or counted and taken back, which a rate limiter cannot do.
  const failures = redis !== undefined
    ? createRedisCounter(redis, `${config.REDIS_PREFIX}fail:`, MINUTE)
    : createMemoryCounter(MINUTE)
  fastify.addHook('onClose', async () => { failures.close() })

  const loginLimit = config.RATE_LIMIT_LOGIN_PER_USERNAME
  const loginKeys = (request: FastifyRequest) => [`login:${loginName(request)}`, `login:${loginName(request)}:${request.ip}`]
  /**
   * Only failed logins count against a username, and once they reach the limit only the addresses they came from
   * are refused: an attacker cannot lock the owner out by failing on purpose, and every address that guesses wrong
   * is out for the rest of the minute, right password or not (a refusal tells nothing about the password). Past
   * LOGIN_HARD_CAP times the limit, a minute's guessing from that many addresses, every address is refused.
   * An attempt counts as a failure from the start, so concurrent guesses cannot all pass before one is counted;
   * a success, or a refusal here, takes it back.
   */
  async function loginPerUsername (request: FastifyRequest, reply: FastifyReply) {
    const [user, fromHere] = await Promise.all(loginKeys(request).map((key) => failures.add(key))) as [WindowCount, WindowCount]
    const refused = user.count > loginLimit * LOGIN_HARD_CAP
      ? user
      : user.count > loginLimit && fromHere.count > 1 ? fromHere : undefined
    if (refused === undefined) return
    await takeBack(request)
    refuse(reply, refused.retryAfter)
  }
  async function takeBack (request: FastifyRequest) {
    await Promise.all(loginKeys(request).map((key) => failures.refund(key)))
  }

  const tokenLimit = config.RATE_LIMIT_AUTH_FAILURES_PER_IP
  async function authFailuresPerIp (request: FastifyRequest, reply?: FastifyReply) {
    const fromHere = await failures.peek(`token:${request.ip}`)
    if (fromHere.count >= tokenLimit) refuse(reply, fromHere.retryAfter)
  }

  fastify.decorate('limits', {
    authPerIp: limit('auth-ip', config.RATE_LIMIT_AUTH_PER_IP, (request) => request.ip),
    loginPerUsername,
    loginSucceeded: takeBack,
    authFailuresPerIp,
    authFailed: async (request: FastifyRequest) => { await failures.add(`token:${request.ip}`) },
    restPerToken: limit('token', config.RATE_LIMIT_REST_PER_TOKEN, (request) => String(request.tokenId))
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis'] })
