import type { Query } from './database.js'

/** The tables the group commit's send statement reads (src/db/message-writer.ts). */
const SEND_TABLES = ['messages', 'rooms', 'room_members', 'users']
/** Between looks at their statistics. */
export const STATISTICS_CHECK_MS = 1000

/** Whether ANALYZE has given every table the send statement reads its statistics: then its plan can be kept. */
export async function sendTablesAnalyzed (query: Query): Promise<boolean> {
  const [row] = await query<{ n: number }>(`select count(distinct tablename)::int as n from pg_stats
    where schemaname = current_schema() and tablename = any($1::text[])`, [SEND_TABLES])
  return row?.n === SEND_TABLES.length
}
