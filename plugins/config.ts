import fp from 'fastify-plugin'
import type { AppOptions, Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** The configuration is read once, in server.ts (or a test), and handed to the app as an option. */
export default fp<AppOptions>(async function config (fastify, opts) {
  fastify.decorate('config', opts.config)
}, { name: 'config' })
