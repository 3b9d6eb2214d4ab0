import { loadConfig, loadEnvFile } from '../config.js'
import { openDatabase } from './client.js'

// `npm run db:migrate`: applies pending migrations and exits (the server also does this at start).
loadEnvFile()
const config = loadConfig()
const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 1 })
try {
  await database.migrate()
  console.log(`${database.kind} database migrated`)
} finally {
  await database.close()
}
