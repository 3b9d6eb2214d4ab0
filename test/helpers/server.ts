import { createHash, randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { buildServer } from '../../src/build.js'
import { openDatabase } from '../../src/db/client.js'
import { migrationsDir } from '../../src/paths.js'
import { entryEnv } from './entry.js'
import { loadConfig, type Config } from '../../src/config.js'

// Run from the sources, the app autoloads plugins/ and routes/ as TypeScript.
Object.assign(process.env, entryEnv)

interface Teardown { teardown: (fn: () => unknown) => void }

export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string
  /** ws://127.0.0.1:<port> */
  wsUrl: string
  app: Awaited<ReturnType<typeof buildServer>>
  config: Config
  close: () => Promise<void>
}

/**
 * A fresh database for one test: a new PostgreSQL database when TEST_DATABASE_URL is set (dropped afterwards),
 * else an embedded one in a new temporary directory. Returns the config entries that point at it.
 */
export async function freshDatabase (t: Teardown): Promise<Partial<Record<keyof Config, string>>> {
  const admin = process.env.TEST_DATABASE_URL
  if (admin === undefined || admin === '') {
    const dir = mkdtempSync(join(tmpdir(), 'chat-test-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    cpSync(await embeddedTemplate(), dir, { recursive: true })
    return { DATA_DIR: dir }
  }
  const name = `chat_test_${randomBytes(6).toString('hex')}`
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  await sql.unsafe(`create database ${name}`)
  await sql.end()
  t.teardown(async () => {
    const drop = postgres(admin, { max: 1, onnotice: () => {} })
    await drop.unsafe(`drop database if exists ${name} with (force)`)
    await drop.end()
  })
  const url = new URL(admin)
  url.pathname = `/${name}`
  return { DATABASE_URL: url.toString() }
}

/**
 * Starts the real server on port 0 against a fresh database; `t.teardown` closes it.
 * `env` overrides configuration entries the way environment variables would.
 */
export async function startServer (t: Teardown, env: Record<string, string> = {},
  database?: Partial<Record<keyof Config, string>>): Promise<TestServer> {
  const config = loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...entryEnv,
    ...(database ?? await freshDatabase(t)),
    ...env,
    HOST: '127.0.0.1',
    PORT: '0'
  })
  const app = await buildServer(config)
  await app.listen({ host: config.HOST, port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${address.port}`,
    wsUrl: `ws://127.0.0.1:${address.port}`,
    app,
    config,
    close
  }
}

/**
 * A migrated embedded database directory, made once per set of migrations and copied for each test:
 * creating one takes seconds (initdb), copying it a fraction of one.
 */
async function embeddedTemplate (): Promise<string> {
  const hash = createHash('sha256')
  for (const file of readdirSync(migrationsDir, { recursive: true }).map(String).sort()) {
    if (file.endsWith('.sql') || file.endsWith('.json')) hash.update(file).update(readFileSync(join(migrationsDir, file)))
  }
  const template = join(tmpdir(), `chat-backend-template-${hash.digest('hex').slice(0, 16)}`)
  if (existsSync(template)) return template
  const building = mkdtempSync(join(tmpdir(), 'chat-template-build-'))
  const database = await openDatabase({ dataDir: building })
  await database.migrate()
  await database.close()
  try {
    renameSync(building, template)
  } catch {
    // Another test process made it first.
    rmSync(building, { recursive: true, force: true })
  }
  return template
}
