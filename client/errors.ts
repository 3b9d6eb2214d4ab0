import type { ErrorResponse } from './types.js'

/** A non-2xx REST answer: branch on `code` (stable), show `detail`. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly errors: Array<{ field: string, message: string }>
  /** Seconds to wait, from `Retry-After` on a 429. */
  readonly retryAfter: number | undefined

  constructor (status: number, body: Partial<ErrorResponse> | null, retryAfter?: string | null) {
    super(body?.detail ?? `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = body?.code ?? (status === 0 ? 'network_error' : 'server_error')
    this.detail = body?.detail ?? this.message
    this.errors = body?.errors ?? []
    this.retryAfter = retryAfter === null || retryAfter === undefined ? undefined : Number(retryAfter)
  }
}
