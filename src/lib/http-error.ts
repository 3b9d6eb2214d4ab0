/** The REST error codes (the error table of docs/api.md). */
export type ErrorCode =
  | 'validation_error' | 'invalid_cursor' | 'not_authenticated' | 'authentication_failed' | 'permission_denied'
  | 'not_found' | 'conflict' | 'payload_too_large' | 'throttled' | 'server_error' | 'unavailable'

export interface FieldError { field: string, message: string }

/** An error that the one error handler turns into the API's error body, with this status and code. */
export class HttpError extends Error {
  constructor (
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[]
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

export const notFound = (what = 'Not found.') => new HttpError(404, 'not_found', what)
export const permissionDenied = (detail = 'You do not have permission to perform this action.') =>
  new HttpError(403, 'permission_denied', detail)
export const conflict = (detail: string) => new HttpError(409, 'conflict', detail)
export const notAuthenticated = () =>
  new HttpError(401, 'not_authenticated', 'Authentication credentials were not provided.')
export const authenticationFailed = (detail = 'Invalid token.') => new HttpError(401, 'authentication_failed', detail)
export const unavailable = (detail = 'The service is unavailable. Retry later.') => new HttpError(503, 'unavailable', detail)
