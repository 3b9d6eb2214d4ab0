import type { Redis } from 'ioredis'

/** A count in the current window under a key, and the whole seconds until that window ends (1 at least). */
export interface WindowCount { count: number, retryAfter: number }

/** Counts under keys in fixed windows that start with the first count. */
export interface FailureCounter {
  peek: (key: string) => Promise<WindowCount>
  /** Counts one under `key`; answers the count with it. */
  add: (key: string) => Promise<WindowCount>
  /** Takes one back, if the window it was counted in is still open. */
  refund: (key: string) => Promise<void>
  close: () => void
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

/**
 * Counts that can be read without counting and taken back, which a rate limiter (counting at every check)
 * cannot do. In this process's memory; expired windows are swept once a window.
 */
export function createMemoryCounter (windowMs: number): FailureCounter {
  const windows = new Map<string, { count: number, endsAt: number }>()
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [key, window] of windows) if (window.endsAt <= now) windows.delete(key)
  }, windowMs)
  sweep.unref()
  const current = (key: string) => {
    const window = windows.get(key)
    return window !== undefined && window.endsAt > Date.now() ? window : undefined
  }
  const answer = (window: { count: number, endsAt: number } | undefined) =>
    ({ count: window?.count ?? 0, retryAfter: seconds(window === undefined ? windowMs : window.endsAt - Date.now()) })
  return {
    async peek (key) { return answer(current(key)) },
    async add (key) {
      let window = current(key)
      if (window === undefined) windows.set(key, window = { count: 0, endsAt: Date.now() + windowMs })
      window.count++
      return answer(window)
    },
    async refund (key) {
      const window = current(key)
      if (window !== undefined && window.count > 0) window.count--
    },
    close () { clearInterval(sweep) }
  }
}

// DECR on a missing key would make one without expiry, at -1.
const REFUND = "if redis.call('exists', KEYS[1]) == 1 then redis.call('decr', KEYS[1]) end"

/**
 * The same in Redis, shared by every instance. When Redis is down nothing is counted and nothing refused, as with
 * the other limits (@fastify/rate-limit's `skipOnError`): an outage must not lock everyone out.
 */
export function createRedisCounter (redis: Redis, prefix: string, windowMs: number): FailureCounter {
  const unknown = { count: 0, retryAfter: seconds(windowMs) }
  const answer = (count: unknown, ttl: unknown) =>
    ({ count: Number(count ?? 0), retryAfter: seconds(typeof ttl === 'number' && ttl > 0 ? ttl : windowMs) })
  // Concurrent peeks of one key share a read: a reconnect storm from one address (a NAT, a proxy) is one round trip,
  // not one per socket. Replies come in order on the one connection, and a read is forgotten as its reply is handled,
  // before the replies after it: a read that a peek shares was sent after every count this process has seen answered.
  const reading = new Map<string, Promise<WindowCount>>()
  const read = (key: string): Promise<WindowCount> => redis.multi().get(prefix + key).pttl(prefix + key).exec()
    .then((replies) => {
      reading.delete(key)
      const [get, pttl] = (replies ?? []) as Array<[unknown, unknown] | undefined>
      return answer(get?.[1], pttl?.[1])
    }, () => {
      reading.delete(key)
      return unknown
    })
  return {
    peek (key) {
      let pending = reading.get(key)
      if (pending === undefined) reading.set(key, pending = read(key))
      return pending
    },
    async add (key) {
      try {
        // The window starts with the first count (SET NX) and is not extended by the next ones.
        const [, [, count], [, ttl]] = await redis.multi().set(prefix + key, 0, 'PX', windowMs, 'NX').incr(prefix + key)
          .pttl(prefix + key).exec() as Array<[unknown, unknown]> as [[unknown, unknown], [unknown, unknown], [unknown, unknown]]
        return answer(count, ttl)
      } catch {
        return unknown
      }
    },
    async refund (key) {
      await redis.eval(REFUND, 1, prefix + key).catch(() => {})
    },
    close () {}
  }
}
