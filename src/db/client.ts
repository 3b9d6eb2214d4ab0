import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { migrationsDir } from '../paths.js'
import { lockDataDir } from './data-dir-lock.js'
import * as schema from './schema/index.js'

export type Schema = typeof schema
/** Both drivers' databases: every query is written once against this type. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

export interface Database {
  db: Db
  kind: 'postgres' | 'embedded'
  /** Applies pending migrations; several processes may call it at once. */
  migrate: () => Promise<void>
  /** Plain SQL with `$n` parameters for a hot path: on PostgreSQL it is prepared once per connection. */
  query: <T>(text: string, params: unknown[]) => Promise<T[]>
  ping: () => Promise<void>
  close: () => Promise<void>
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined
  dataDir: string
  poolSize?: number
}

const drizzleOptions = { schema, casing: 'snake_case' } as const
// An arbitrary constant: every instance migrating one database takes this advisory lock first.
const MIGRATION_LOCK = 7_391_104_112

export async function openDatabase (options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl === undefined
    ? await openEmbedded(options.dataDir)
    : openPostgres(options.databaseUrl, options.poolSize ?? 10)
}

function openPostgres (url: string, max: number): Database {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 10,
    // Prepared statements (`query`, and drizzle's `.prepare()`) are parsed once per connection but planned at each
    // run: a generic plan made while the messages table was small would keep scanning it whole once it is large.
    connection: { plan_cache_mode: 'force_custom_plan' }
  })
  const db = drizzlePostgres(client, drizzleOptions)
  return {
    db,
    kind: 'postgres',
    async migrate () {
      // One connection, so the advisory lock and the migration share a session.
      const single = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 })
      try {
        await single`select pg_advisory_lock(${MIGRATION_LOCK})`
        await migratePostgres(drizzlePostgres(single, drizzleOptions), { migrationsFolder: migrationsDir })
        await single`select pg_advisory_unlock(${MIGRATION_LOCK})`
      } finally {
        await single.end({ timeout: 5 })
      }
    },
    query: async <T>(text: string, params: unknown[]) =>
      await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as unknown as T[],
    async ping () { await client`select 1` },
    async close () { await client.end({ timeout: 5 }) }
  }
}

async function openEmbedded (dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://')
  const unlock = inMemory ? () => {} : lockDataDir(dataDir)
  let client: PGlite
  try {
    client = await PGlite.create(inMemory ? undefined : dataDir)
  } catch (error) {
    unlock()
    throw error
  }
  const db = drizzlePglite(client, drizzleOptions)
  return {
    db: db as unknown as Db,
    kind: 'embedded',
    async migrate () { await migratePglite(db, { migrationsFolder: migrationsDir }) },
    query: async <T>(text: string, params: unknown[]) => (await client.query<T>(text, params)).rows,
    async ping () { await db.execute(sql`select 1`) },
    async close () {
      try { await client.close() } finally { unlock() }
    }
  }
}
