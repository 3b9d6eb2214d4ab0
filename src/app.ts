import { fileURLToPath } from 'node:url'
import AutoLoad from '@fastify/autoload'
import type { FastifyInstance } from 'fastify'
import type { AppOptions } from './config.js'
import { errorHandler, notFoundHandler } from './error-handler.js'

/**
 * The service is a plugin: plugins/ (one concern each, ordered by their declared dependencies), then routes/
 * (folders mirror the URLs; autohooks apply authentication per folder).
 */
export default async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.setErrorHandler(errorHandler)
  fastify.setNotFoundHandler(notFoundHandler)
  await fastify.register(AutoLoad, {
    dir: beside('plugins'),
    options: opts,
    forceESM: true,
    ignorePattern: /\.d\.ts$/
  })
  await fastify.register(AutoLoad, {
    dir: beside('routes'),
    options: opts,
    forceESM: true,
    autoHooks: true,
    routeParams: true,
    cascadeHooks: true,
    ignorePattern: /\.d\.ts$/
  })
}

// plugins/ and routes/ sit beside src/: at the package root in development, under dist/ once compiled.
const beside = (folder: string) => fileURLToPath(new URL(`../${folder}`, import.meta.url))
