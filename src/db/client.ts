import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { migrationsDir } from '../paths.js'
import type { Database, Query } from './database.js'
import { openEmbedded } from './embedded.js'
import * as schema from './schema/index.js'

export type { Database, Db, Query } from './database.js'

export interface DatabaseOptions {
  databaseUrl?: string | undefined
  dataDir: string
  poolSize?: number
}

const drizzleOptions = { schema, casing: 'snake_case' } as const
// An arbitrary constant: every instance migrating one database takes this advisory lock first.
const MIGRATION_LOCK = 7_391_104_112
const CONNECT_TIMEOUT_S = 5
/** No request's query runs longer than this: a stuck one fails as unavailable instead of holding its caller. */
const STATEMENT_TIMEOUT_MS = 10_000

/** Seconds before a pool connection retries after a failed attempt: 50 ms doubling, at most 500 ms, with jitter. */
const reconnectDelay = (retries: number) => Math.min(0.05 * 2 ** Math.max(0, retries - 1), 0.5) * (0.5 + Math.random() / 2)

export async function openDatabase (options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl === undefined
    ? await openEmbedded(options.dataDir, drizzleOptions)
    : openPostgres(options.databaseUrl, options.poolSize ?? 10)
}

function openPostgres (url: string, max: number): Database {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    // A database that is down answers at once (refused); one that does not answer is given up on after this.
    connect_timeout: CONNECT_TIMEOUT_S,
    // postgres.js waits 3^n/100 s (up to 20 s) before a connection's next attempt, n counting every failed attempt
    // of the pool since the last success: after a few seconds of outage, queries waited 10-20 s once the database
    // was back. A short, bounded wait answers them within a second of its return.
    backoff: reconnectDelay,
    // Prepared statements (`query`, and drizzle's `.prepare()`) are parsed once per connection but planned at each
    // run: a generic plan made while the messages table was small would keep scanning it whole once it is large.
    connection: { plan_cache_mode: 'force_custom_plan', statement_timeout: STATEMENT_TIMEOUT_MS }
  })
  const db = drizzlePostgres(client, drizzleOptions)
  return {
    orm: db,
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
    transaction: async <T>(work: (query: Query) => Promise<T>) => await client.begin((tx) => work(async <R>(text: string, params: unknown[]) =>
      await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as unknown as R[])) as T,
    async ping () { await client`select 1` },
    async close () { await client.end({ timeout: 5 }) }
  }
}
