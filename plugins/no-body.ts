import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../src/lib/http-error.js'

/**
 * A route that declares no body schema (join, leave, logout, member removal...) takes none: an empty body, `{}`, or
 * no body at all (the 0.1 clients send a body-less POST with no content type). Anything else is refused with 400,
 * as unknown fields are everywhere else, instead of being silently ignored.
 */
async function refuseBody (request: FastifyRequest) {
  const { body } = request
  if (body === undefined || request.is404 || request.routeOptions.schema?.body !== undefined) return
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const fields = Object.keys(body)
    if (fields.length === 0) return
    throw new HttpError(400, 'validation_error', 'This route takes no body.',
      fields.map((field) => ({ field: `/${field}`, message: 'Unexpected property' })))
  }
  throw new HttpError(400, 'validation_error', 'This route takes no body.', [{ field: '/', message: 'must be empty or {}' }])
}

export default fp(async function noBody (fastify) {
  fastify.addHook('preValidation', refuseBody)
}, { name: 'no-body' })
