import type { Redis } from 'ioredis'

/** Failures counted under one key in fixed windows: how many so far in this window, and when it ends. */
export interface FailureCounter {
  /** This window's count under `key` and the whole seconds until the window ends (1 at least). */
  peek: (key: string) => Promise<{ count: number, retryAfter: number }>
  /** Counts one failure under `key`. */
  add: (key: string) => Promise<void>
  close: () => void
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

/**
 * A counter whose limits must be read before the attempt and counted only after it fails, which a rate limiter
 * (that counts at the check) cannot do. In this process's memory; expired windows are swept once a window.
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
  return {
    async peek (key) {
      const window = current(key)
      return { count: window?.count ?? 0, retryAfter: seconds(window === undefined ? windowMs : window.endsAt - Date.now()) }
    },
    async add (key) {
      const window = current(key)
      if (window === undefined) windows.set(key, { count: 1, endsAt: Date.now() + windowMs })
      else window.count++
    },
    close () { clearInterval(sweep) }
  }
}

/**
 * The same in Redis, shared by every instance. When Redis is down nothing is counted and nothing refused, as with
 * the other limits (@fastify/rate-limit's `skipOnError`): an outage must not lock everyone out.
 */
export function createRedisCounter (redis: Redis, prefix: string, windowMs: number): FailureCounter {
  return {
    async peek (key) {
      try {
        const [[, count], [, ttl]] = await redis.multi().get(prefix + key).pttl(prefix + key).exec() as [[unknown, string | null], [unknown, number]]
        return { count: Number(count ?? 0), retryAfter: seconds(ttl > 0 ? ttl : windowMs) }
      } catch {
        return { count: 0, retryAfter: seconds(windowMs) }
      }
    },
    async add (key) {
      // The window starts with the first failure (SET NX) and is not extended by the next ones.
      await redis.multi().set(prefix + key, 0, 'PX', windowMs, 'NX').incr(prefix + key).exec().catch(() => {})
    },
    close () {}
  }
}
