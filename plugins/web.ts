import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { rootDir } from '../src/paths.js'

/** Where `npm run build` (Vite) puts the web chat; the same from the sources, dist/ and .build/. */
const webDir = join(rootDir, 'dist', 'web')

/**
 * The web chat at `/`: the files Vite built, one route each (no wildcard), so nothing under /api, /ws, /docs,
 * /healthz, /readyz or /metrics can be shadowed, and an unknown path still gets the API's 404 body.
 */
export default fp(async function web (fastify) {
  if (!existsSync(join(webDir, 'index.html'))) {
    fastify.log.warn({ webDir }, 'no web chat built (npm run build): / is not served')
    return
  }
  await fastify.register(fastifyStatic, {
    root: webDir,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    // Vite names assets by their content: they never change. index.html must be asked for again each time.
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
    }
  })
}, { name: 'web', dependencies: ['http-security'] })
