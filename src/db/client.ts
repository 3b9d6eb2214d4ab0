import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { migrationsDir } from '../paths.js'
import type { Database, Query } from './database.js'
import { openEmbedded } from './embedded.js'
import * as schema from './schema/index.js'
import { atMostEverySecond, sendTablesAnalyzed } from './send-tables.js'

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

/** `query` on a connection (pool) or in a transaction: prepared, once per connection. */
const run = (sql: postgres.Sql | postgres.TransactionSql): Query => async <T>(text: string, params: unknown[]) =>
  await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as unknown as T[]

function openPostgres (url: string, max: number): Database {
  const pool = (size: number, settings: Record<string, string>) => postgres(url, {
    max: size,
    onnotice: () => {},
    // A database that is down answers at once (refused); one that does not answer is given up on after this.
    connect_timeout: CONNECT_TIMEOUT_S,
    // postgres.js waits 3^n/100 s (up to 20 s) before a connection's next attempt, n counting every failed attempt
    // of the pool since the last success: after a few seconds of outage, queries waited 10-20 s once the database
    // was back. A short, bounded wait answers them within a second of its return.
    backoff: reconnectDelay,
    connection: { statement_timeout: STATEMENT_TIMEOUT_MS, ...settings }
  })
  // Prepared statements (`query`, and drizzle's `.prepare()`) are parsed once per connection but planned at each
  // run: their plans depend on their parameters (a cursor, a word, a user), and a generic plan made while the
  // messages table was small would keep scanning it whole once it is large.
  const client = pool(max, { plan_cache_mode: 'force_custom_plan', application_name: 'chat-backend' })
  const transaction = (sql: postgres.Sql) => async <T>(work: (query: Query) => Promise<T>) =>
    await sql.begin((tx) => work(run(tx))) as T
  const writer = sendsConnection(pool, client)
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
    query: run(client),
    transaction: transaction(client),
    writer: { query: writer.query, transaction: transaction(writer.changes) },
    async ping () { await client`select 1` },
    async close () { await Promise.all([client, ...writer.pools].map((sql) => sql.end({ timeout: 5 }))) }
  }
}

/**
 * The group commit's connections (statements run one after the other on one connection). Its send statement finds every row through an index
 * on values carried in the batch's JSON, so its plan does not depend on the parameters and can be made once per
 * connection and kept: planning it cost as much as running it. A plan is only as good as the statistics it is made
 * with, though, and a kept one is not fitted to the table's size at each run as a fresh one is:
 * - Before the tables have statistics the choice is arbitrary: with a handful of rows, every index of `messages`
 *   that starts with `room_id` looks as good as the unique one, and the plan kept scanned a room's messages at
 *   every send. So sends run on a connection that plans at each run until the four tables have statistics
 *   (autovacuum's first ANALYZE, after some 50 rows), then on one that keeps its plan.
 * - Statistics made at 40 rows favour scanning the table; `messages` can grow by a minute of traffic before
 *   autovacuum analyzes it again. The connection that keeps its plan has sequential scans off, so it reads every
 *   table through an index, which suits every size.
 * The plan kept is made again whenever ANALYZE renews a table's statistics (as the tables grow) and with each new
 * connection (postgres.js replaces one after 30 to 60 minutes). Changes (a transaction of several statements whose
 * lookups depend on the request) plan at each run.
 */
function sendsConnection (pool: (size: number, settings: Record<string, string>) => postgres.Sql, client: postgres.Sql) {
  // Named, so that pg_stat_activity tells which one the sends are on.
  const planning = pool(1, { plan_cache_mode: 'force_custom_plan', application_name: 'chat-backend writer' })
  const keeping = pool(1, { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off', application_name: 'chat-backend writer, plans kept' })
  let keep = false
  let ready = false
  let onPlanning = 0
  const look = atMostEverySecond(async () => { ready = await sendTablesAnalyzed(run(client)) })
  // The choice is made as a statement is issued, so statements run in the order they are issued (the writer
  // relies on it), and the move to the connection that keeps its plan waits until none is in flight on the other.
  const planned = async <T>(text: string, params: unknown[]) => {
    onPlanning++
    try {
      return await run(planning)<T>(text, params)
    } finally {
      onPlanning--
    }
  }
  const query = <T>(text: string, params: unknown[]): Promise<T[]> => {
    if (!keep && ready && onPlanning === 0) keep = true
    if (keep) return run(keeping)<T>(text, params)
    if (!ready) look()
    return planned<T>(text, params)
  }
  return {
    query,
    changes: planning,
    pools: [planning, keeping]
  }
}
