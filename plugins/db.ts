import fp from 'fastify-plugin'
import { openDatabase, type Database } from '../src/db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
  }
}

/** Opens PostgreSQL (DATABASE_URL) or the embedded database (DATA_DIR), migrates it, and closes it last. */
export default fp(async function db (fastify) {
  const { DATABASE_URL, DATA_DIR, DB_POOL_SIZE } = fastify.config
  const database = await openDatabase({ databaseUrl: DATABASE_URL, dataDir: DATA_DIR, poolSize: DB_POOL_SIZE })
  try {
    await database.migrate()
  } catch (error) {
    await database.close()
    throw new Error(`Could not migrate the ${database.kind} database: ${(error as Error).message}`, { cause: error })
  }
  fastify.log.info({ database: database.kind }, 'database ready')
  fastify.decorate('database', database)
  fastify.addHook('onClose', async () => { await database.close() })
}, { name: 'db', dependencies: ['config'] })
