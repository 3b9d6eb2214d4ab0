import type { FastifyServerOptions } from 'fastify'
import { buildServer, loggerOptions } from '../../src/build.js'
import { loadConfig } from '../../src/config.js'
import { freshDatabase } from './server.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * The server as startServer builds it, at LOG_LEVEL=trace, with its log kept in `lines` (parsed) instead of written
 * to stdout; `waitFor` waits, with a bound, for a line that matches.
 */
export async function startLoggedServer (t: Teardown, env: Record<string, string> = {}) {
  const lines: any[] = []
  let waiters: Array<() => void> = []
  const stream = {
    write (chunk: string) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(JSON.parse(line))
      const woken = waiters
      waiters = []
      for (const wake of woken) wake()
    }
  }
  const config = loadConfig({ ...await freshDatabase(t), LOG_LEVEL: 'trace', ...env, HOST: '127.0.0.1', PORT: '0' })
  const logger = { ...loggerOptions(config) as Exclude<FastifyServerOptions['logger'], boolean | undefined>, stream }
  const app = await buildServer(config, { logger })
  await app.listen({ host: config.HOST, port: 0 })
  t.teardown(() => app.close())
  const port = (app.server.address() as { port: number }).port

  async function waitFor (match: (line: any) => boolean, timeoutMs = 5000, what = 'a log line'): Promise<any> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = lines.find(match)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
  return { app, config, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, lines, waitFor }
}
