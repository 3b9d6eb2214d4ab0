// postgres.js connection failures and the SQLSTATEs of a server that is down, starting or restarting.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  '57P01', '57P02', '57P03', '53300',
  // statement_timeout: the database is too slow to answer now
  '57014'
])

/** The error and its causes (drizzle wraps the driver's error in `cause`). */
function * chain (error: unknown): Generator<{ code?: unknown, constraint_name?: unknown, constraint?: unknown }> {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current as { code?: unknown }
    current = (current as { cause?: unknown }).cause
  }
}

/** True when the database cannot be reached: the request may succeed later, so callers answer 503 `unavailable`. */
export function isDatabaseUnavailable (error: unknown): boolean {
  for (const link of chain(error)) {
    const code = link.code
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true
  }
  return false
}

/** True when the error, or one of its causes, has one of these SQLSTATEs. */
function hasCode (error: unknown, ...codes: string[]): boolean {
  for (const link of chain(error)) if (codes.includes(link.code as string)) return true
  return false
}

/** True for a unique-constraint violation (SQLSTATE 23505). */
export const isUniqueViolation = (error: unknown) => hasCode(error, '23505')

/** True when a batch of sends found that the batch ahead of it did not commit (`chat_batch_turn`, drizzle/0004). */
export const isTurnMissed = (error: unknown) => hasCode(error, 'CH001')

/** True for a deadlock or serialization failure: the transaction can simply be run again. */
export const isRetryable = (error: unknown) => hasCode(error, '40P01', '40001')

/** Runs `work`, and again after a deadlock or a serialization failure: `attempts` runs at most. */
export async function retryingConflicts<T> (work: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (attempt < attempts && isRetryable(error)) continue
      throw error
    }
  }
}
