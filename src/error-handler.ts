import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from './lib/db-errors.js'
import { HttpError, type ErrorCode } from './lib/http-error.js'
import type { ErrorBody } from './schemas/errors.js'

function toHttpError (error: FastifyError): HttpError {
  if (error instanceof HttpError) return error
  if (error.validation !== undefined) {
    const errors = error.validation.map((issue) => ({
      field: issue.instancePath === '' ? '/' : issue.instancePath,
      message: issue.message ?? 'is invalid'
    }))
    return new HttpError(400, 'validation_error', `Invalid ${error.validationContext ?? 'request'}.`, errors)
  }
  if (isDatabaseUnavailable(error)) return new HttpError(503, 'unavailable', 'The service is unavailable. Retry later.')
  const status = error.statusCode ?? 500
  if (status === 413) return new HttpError(413, 'payload_too_large', 'The request body is too large.')
  if (status === 429) return new HttpError(429, 'throttled', error.message)
  if (status === 404) return new HttpError(404, 'not_found', 'Not found.')
  // Fastify's own client errors (malformed JSON, wrong content type, bad headers) are bad input too.
  if (status >= 400 && status < 500) return new HttpError(400, 'validation_error', error.message)
  if (status === 503) return new HttpError(503, 'unavailable', 'The service is unavailable. Retry later.')
  return new HttpError(500, 'server_error', 'A server error occurred.')
}

/** The one error handler: every error becomes the contract's ErrorResponse; 5xx details stay in the log. */
export function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const http = toHttpError(error)
  const body: ErrorBody = { detail: http.message, code: http.code }
  if (http.errors !== undefined) body.errors = http.errors
  if (http.statusCode >= 500) {
    body.request_id = request.id
    request.log.error({ err: error }, http.code)
  } else {
    request.log.info({ code: http.code, status: http.statusCode }, http.message)
  }
  return reply.code(http.statusCode).send(body)
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply) {
  const body: ErrorBody = { detail: 'Not found.', code: 'not_found' satisfies ErrorCode }
  return reply.code(404).send(body)
}
