import type { Query } from './database.js'

/** The tables the group commit's send statement reads (src/db/message-writer.ts). */
const SEND_TABLES = ['messages', 'rooms', 'room_members', 'users']
/** Between looks at their statistics. */
const STATISTICS_CHECK_MS = 1000

/** Whether ANALYZE has given every table the send statement reads its statistics: then its plan can be kept. */
export async function sendTablesAnalyzed (query: Query): Promise<boolean> {
  const [row] = await query<{ n: number }>(`select count(distinct tablename)::int as n from pg_stats
    where schemaname = current_schema() and tablename = any($1::text[])`, [SEND_TABLES])
  return row?.n === SEND_TABLES.length
}

/**
 * Runs `work` in the background each time the returned function is called, but at most once every
 * STATISTICS_CHECK_MS and never twice at once; a failure is dropped (the next call tries again).
 */
export function atMostEverySecond (work: () => Promise<void>): () => void {
  let running = false
  let ranAt = -Infinity
  return () => {
    if (running || performance.now() - ranAt < STATISTICS_CHECK_MS) return
    running = true
    ranAt = performance.now()
    work().catch(() => {}).finally(() => { running = false })
  }
}
