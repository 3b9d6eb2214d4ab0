import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from './lib/db-errors.js'
import { HttpError, unavailable, type ErrorCode } from './lib/http-error.js'
import type { ErrorResponse } from './schemas/errors.js'

function toHttpError (error: FastifyError): HttpError {
  if (error instanceof HttpError) return error
  if (error.validation !== undefined) {
    const errors = error.validation.map((issue) => ({
      field: issue.instancePath === '' ? '/' : issue.instancePath,
      message: issue.message ?? 'is invalid'
    }))
    return new HttpError(400, 'validation_error', `Invalid ${error.validationContext ?? 'request'}.`, errors)
  }
  const status = error.statusCode ?? 500
  // Fastify gives a 4xx to what the client did, a request body it aborted (ECONNRESET) included: that is not the
  // database's ECONNRESET.
  if (status >= 500 && isDatabaseUnavailable(error)) {
    return unavailable()
  }
  if (status === 413) return new HttpError(413, 'payload_too_large', 'The request body is too large.')
  if (status === 429) return new HttpError(429, 'throttled', error.message)
  if (status === 404) return new HttpError(404, 'not_found', 'Not found.')
  // Fastify's own client errors (malformed JSON, wrong content type, bad headers) are bad input too.
  if (status >= 400 && status < 500) return new HttpError(400, 'validation_error', error.message)
  if (status === 503) return unavailable()
  return new HttpError(500, 'server_error', 'A server error occurred.')
}

/** The one error handler: every error becomes the API's ErrorResponse; 5xx details stay in the log. */
export function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (clientWentAway(request)) {
    // No one is left to answer; nothing of the server is wrong.
    request.log.info({ code: (error as NodeJS.ErrnoException).code }, 'the client closed the connection mid-request')
    return reply.code(400).send({
      detail: 'The request was aborted.',
      code: 'validation_error',
      errors: [{ field: '/', message: 'the request was aborted' }]
    } satisfies ErrorResponse)
  }
  const http = toHttpError(error)
  const body: ErrorResponse = { detail: http.message, code: http.code }
  // A validation error always lists what was wrong; a body that is not even JSON is wrong as a whole ("/").
  if (http.code === 'validation_error') body.errors = http.errors ?? [{ field: '/', message: http.message }]
  if (http.statusCode >= 500) {
    body.request_id = request.id
    request.log.error({ err: error }, http.code)
  } else {
    request.log.info({ code: http.code, status: http.statusCode }, http.message)
  }
  return reply.code(http.statusCode).send(body)
}

/** The client aborted the request (reset its connection before the body was in): not a database's ECONNRESET. */
function clientWentAway (request: FastifyRequest): boolean {
  return request.raw.aborted || (request.raw.destroyed && !request.raw.complete)
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply) {
  const body: ErrorResponse = { detail: 'Not found.', code: 'not_found' satisfies ErrorCode }
  return reply.code(404).send(body)
}

/**
 * Errors Fastify meets before routing: a malformed percent-encoding, a path segment over the router's
 * maxParamLength. Their messages quote the whole URL, `?token=` included, so neither the answer nor the log
 * repeats them.
 */
export function frameworkErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const refused = error.code === 'FST_ERR_BAD_URL'
    ? new HttpError(400, 'validation_error', 'The URL is not validly percent-encoded.')
    : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new HttpError(400, 'validation_error', 'A path segment is too long.')
      : error
  // An upgrade request's socket has left Node's HTTP server, which would never close it: close it once answered,
  // as @fastify/websocket does after a route's refusal.
  if (request.headers.upgrade !== undefined) reply.raw.once('finish', () => request.raw.socket.destroy())
  return errorHandler(refused as FastifyError, request, reply)
}

/**
 * HTTP that Node's parser refuses (headers over its 16 KiB limit, a malformed header line) never reaches Fastify's
 * router: answered in the API's shape too, rather than Fastify's own. Only the parser's code is logged.
 */
export function clientErrorHandler (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ code: error.code }, 'malformed HTTP request')
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const [status, detail] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'The request headers are too large.']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request did not arrive in time.']
      : [400, 'The request is not valid HTTP.']
  const body = JSON.stringify({ detail, code: 'validation_error', errors: [{ field: '/', message: detail }] } satisfies ErrorResponse)
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
