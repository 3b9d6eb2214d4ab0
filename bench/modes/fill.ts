import postgres from 'postgres'
import { createRoom, register, uniqueName, type Account, type RoomInfo } from '../lib/api.js'

const CHUNK = 200_000

/**
 * A room of `count` messages, written straight into PostgreSQL (far faster than sending them): rows with seqs
 * 1..count from `generate_series`, and `rooms.last_seq` moved to match, as the server itself would leave them.
 */
export async function filledRoom (base: string, databaseUrl: string, count: number, prefix: string) {
  const account: Account = await register(base, uniqueName(`${prefix}_u`))
  const room: RoomInfo = await createRoom(base, account.token, uniqueName(`${prefix}_r`))
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  const started = performance.now()
  try {
    for (let from = 1; from <= count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK - 1)
      await sql`
        insert into messages (room_id, seq, rev, created_rev, sender_id, message, message_type, created_at)
        select ${room.id}, g, g, g, ${account.user.id}, 'history message ' || g, 'text',
               now() - make_interval(secs => (${count}::bigint - g) / 1000.0)
        from generate_series(${from}::bigint, ${to}::bigint) g`
    }
    await sql`update rooms set last_seq = ${count}, last_rev = ${count} where id = ${room.id}`
    // VACUUM, not just ANALYZE: the inserts would otherwise start an autovacuum of the table (its insert threshold)
    // a minute or so later, in the middle of a measurement, competing for the same two cores. CHECKPOINT: the
    // fill's dirty pages (hundreds of MB at 1,000,000) are written now, not by a checkpoint or the kernel's
    // writeback while the measurement runs. It needs a superuser (or pg_checkpoint); without one, it is skipped.
    await sql`vacuum (analyze) messages`
    await sql`checkpoint`.catch(() => {})
    const [setting] = await sql<Array<{ value: string }>>`select value from settings where key = 'cursor_secret'`
    return { account, room, fillS: (performance.now() - started) / 1000, cursorSecret: setting?.value }
  } finally {
    await sql.end({ timeout: 5 })
  }
}
