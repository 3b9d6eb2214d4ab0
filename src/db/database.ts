import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import type * as schema from './schema/index.js'

// The database as the app sees it, whichever opened it: PostgreSQL (src/db/client.ts) or embedded (src/db/embedded.ts).
type Schema = typeof schema
/** Both drivers' databases: every query is written once against this type. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

/** Plain SQL with `$n` parameters. */
export type Query = <T>(text: string, params: unknown[]) => Promise<T[]>

export interface Database {
  /** drizzle over the driver: every query but the hottest is written with it. */
  orm: Db
  kind: 'postgres' | 'embedded'
  /** Applies pending migrations; several processes may call it at once. */
  migrate: () => Promise<void>
  /** Plain SQL with `$n` parameters for a hot path: on PostgreSQL it is prepared once per connection. */
  query: Query
  /** Runs `work` in one transaction on one connection; it commits when `work` resolves, and rolls back if it throws. */
  transaction: <T>(work: (query: Query) => Promise<T>) => Promise<T>
  /**
   * `query` and `transaction` for the group commit (src/db/message-writer.ts): its `query` runs statements one at a
   * time in the order they are issued, each its own transaction, and answers in that order, so a statement may be
   * issued while the one before it runs. On PostgreSQL a connection of its own, embedded the one connection (PGlite
   * runs one query at a time, in order); on both the send statement keeps its plan once the tables have statistics.
   */
  writer: Pick<Database, 'query' | 'transaction'>
  ping: () => Promise<void>
  close: () => Promise<void>
}
