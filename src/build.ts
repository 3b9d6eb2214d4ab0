import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import app from './app.js'
import type { Config } from './config.js'
import { clientErrorHandler, frameworkErrorHandler } from './error-handler.js'
import { HttpError } from './lib/http-error.js'
import { redactStrings, redactUrl } from './lib/redact.js'
import { validatorCompiler } from './validation.js'

/** Logger settings: tokens never reach a log line, from a header, a subprotocol or the socket URL. */
export const loggerOptions = (config: Config): FastifyServerOptions['logger'] => ({
  level: config.LOG_LEVEL,
  redact: {
    paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'req.headers.cookie'],
    censor: '[redacted]'
  },
  serializers: {
    req: (request: { method: string, url: string, headers: Record<string, unknown>, ip?: string }) => ({
      method: request.method,
      url: redactUrl(request.url),
      remoteAddress: request.ip
    })
  },
  // URLs logged by others, outside `req`: @fastify/websocket logs an upgrade to a route that is not a socket
  // with its raw URL as `path`.
  formatters: { log: redactStrings }
})

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** The client's X-Request-Id when it is 1..64 of `A-Z a-z 0-9 . _ -`, else a new UUID. */
function requestId (request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

/** The Fastify instance with the whole service registered; not listening yet. */
export async function buildServer (config: Config, options: FastifyServerOptions = {}) {
  const server = Fastify({
    logger: loggerOptions(config),
    trustProxy: config.TRUST_PROXY,
    bodyLimit: config.BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    // A client's X-Request-Id goes into every log line of its request: taken only when short and plain.
    requestIdHeader: false,
    genReqId: requestId,
    // Errors before routing, and HTTP too malformed to route, get the API's error body as well.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Slow or idle clients do not hold connections: headers and body must arrive within REQUEST_TIMEOUT_MS (30 s).
    // Node checks at connectionsCheckingInterval (30 s by default: up to 60 s in all) and allows headers 60 s
    // unless told: both are set, so a slow client is cut within a second of the limit. Keep-alive lasts 72 s
    // (longer than the usual load balancer's 60 s idle timeout, so the balancer closes first).
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      headersTimeout: config.REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1000, Math.ceil(config.REQUEST_TIMEOUT_MS / 4))
    },
    keepAliveTimeout: 72_000,
    // A cold start (migrations, connecting to Redis) on a busy machine can take a while: fail slow, not falsely.
    pluginTimeout: 60_000,
    ...options
  }).withTypeProvider<TypeBoxTypeProvider>()
  server.setValidatorCompiler(validatorCompiler)
  // An empty body with a JSON content type is no body, as for routes that take none (logout, join, leave).
  // Bytes that are not UTF-8 are refused, not decoded to U+FFFD and stored.
  const parseJson = server.getDefaultJsonParser('error', 'error')
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  server.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch {
      done(new HttpError(400, 'validation_error', 'The body is not valid UTF-8.', [{ field: '/', message: 'must be UTF-8' }]), undefined)
      return
    }
    if (text === '') done(null, undefined)
    else parseJson(request, text, done)
  })
  await server.register(fp(app), { config })
  return server
}
