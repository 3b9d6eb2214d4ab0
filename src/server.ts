import closeWithGrace from 'close-with-grace'
import { buildServer } from './build.js'
import { loadConfig, loadEnvFile } from './config.js'

const LISTEN_BACKLOG = 4096

async function main () {
  loadEnvFile()
  const config = loadConfig()
  const server = await buildServer(config)
  // SIGTERM/SIGINT: stop accepting, close sockets with 1001, let in-flight work finish, close the database; exit.
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: server.log }, async ({ signal, err }) => {
    if (err !== undefined) server.log.error({ err }, 'closing after an error')
    else server.log.info({ signal }, 'shutting down')
    await server.close()
  })
  // A reconnect storm (every client of a restarted instance at once) arrives faster than it is accepted: Node's
  // default queue of 511 pending connections overflowed, and the kernel dropped the rest, whose clients retried
  // seconds later. The kernel caps this at net.core.somaxconn.
  await server.listen({ host: config.HOST, port: config.PORT, backlog: LISTEN_BACKLOG })
}

main().catch((error: unknown) => {
  console.error(`chat-backend could not start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
