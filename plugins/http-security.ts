import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'
import { HttpError } from '../src/lib/http-error.js'

/**
 * Browser-facing headers: CORS only for the origins in CORS_ORIGINS (none by default: mobile apps and SDKs need
 * none), and helmet's security headers. Swagger UI at /docs needs its inline scripts, so the CSP allows them.
 */
export default fp(async function httpSecurity (fastify) {
  // Added before cors's own hook, which answers an OPTIONS that is no preflight in text/plain.
  fastify.addHook('onRequest', async (request) => {
    if (request.method !== 'OPTIONS') return
    if (request.headers.origin === undefined || request.headers['access-control-request-method'] === undefined) {
      throw new HttpError(400, 'validation_error', 'OPTIONS is answered only as a CORS preflight.',
        [{ field: '/headers', message: 'must have Origin and Access-Control-Request-Method' }])
    }
  })
  const origins = fastify.config.CORS_ORIGINS?.split(',').map((origin) => origin.trim()).filter(Boolean) ?? []
  await fastify.register(cors, {
    origin: origins.includes('*') ? true : origins,
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
    methods: ['GET', 'POST', 'PATCH', 'DELETE']
  })
  await fastify.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
        // Served over plain HTTP in development: do not make browsers rewrite /docs requests to https.
        upgradeInsecureRequests: null
      }
    }
  })
}, { name: 'http-security', dependencies: ['config'] })
