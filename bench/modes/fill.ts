import postgres from 'postgres'
import { createRoom, register, uniqueName, type Account, type RoomInfo } from '../lib/api.js'

const CHUNK = 200_000

type Sql = postgres.Sql

/** Inserts messages with seqs `from..to`, each at rev `rev0 + step × (seq - from)`, sent `count - seq` ms ago. */
export async function insertMessages (sql: Sql, room: RoomInfo, account: Account, from: number, to: number, count: number,
  rev0 = from, step = 1) {
  for (let start = from; start <= to; start += CHUNK) {
    const end = Math.min(to, start + CHUNK - 1)
    await sql`
      insert into messages (room_id, seq, rev, created_rev, sender_id, message, message_type, created_at)
      select ${room.id}, g, r, r, ${account.user.id}, 'history message ' || g, 'text',
             now() - make_interval(secs => (${count}::bigint - g) / 1000.0)
      from generate_series(${start}::bigint, ${end}::bigint) g,
           lateral (select ${rev0}::bigint + ${step}::bigint * (g - ${from}::bigint) as r) rev`
  }
}

/**
 * Settles a fill before it is measured. VACUUM, not just ANALYZE: the inserts would otherwise start an autovacuum of
 * the table (its insert threshold) a minute or so later, in the middle of a measurement, competing for the same two
 * cores. CHECKPOINT: the fill's dirty pages (hundreds of MB at 1,000,000) are written now, not by a checkpoint or
 * the kernel's writeback while the measurement runs. It needs a superuser (or pg_checkpoint); without one, it is
 * skipped.
 */
export async function settle (sql: Sql): Promise<void> {
  await sql`vacuum (analyze) messages`
  await sql`vacuum (analyze) message_reactions`
  await sql`checkpoint`.catch(() => {})
}

/**
 * A room written straight into PostgreSQL (far faster than sending its messages) by `write`, which returns the
 * room's last seq and rev; `rooms` is moved to match, as the server itself would leave it.
 */
export async function filled (base: string, databaseUrl: string, prefix: string,
  write: (sql: Sql, room: RoomInfo, account: Account) => Promise<{ lastSeq: number, lastRev: number }>) {
  const account: Account = await register(base, uniqueName(`${prefix}_u`))
  const room: RoomInfo = await createRoom(base, account.token, uniqueName(`${prefix}_r`))
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  const started = performance.now()
  try {
    const { lastSeq, lastRev } = await write(sql, room, account)
    await sql`update rooms set last_seq = ${lastSeq}, last_rev = ${lastRev} where id = ${room.id}`
    await settle(sql)
    const [setting] = await sql<Array<{ value: string }>>`select value from settings where key = 'cursor_secret'`
    return { account, room, fillS: (performance.now() - started) / 1000, cursorSecret: setting?.value }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** A room of `count` messages, seqs 1..count, never changed (rev = seq). */
export const filledRoom = (base: string, databaseUrl: string, count: number, prefix: string) =>
  filled(base, databaseUrl, prefix, async (sql, room, account) => {
    await insertMessages(sql, room, account, 1, count, count)
    return { lastSeq: count, lastRev: count }
  })

/**
 * A room whose log ends with `changes` changes after rev `changes` (an even number): first `changes` messages at
 * revs 1..changes, then, alternately, a new message (odd revs after it) and a change of one of the oldest messages
 * (even revs): an edit of the odd-numbered ones, a 👍 of the even-numbered ones. Resuming from rev `changes` is
 * then `changes` / 2 `message` frames and as many `message_updated`.
 */
export const changedRoom = (base: string, databaseUrl: string, changes: number, prefix: string) =>
  filled(base, databaseUrl, prefix, async (sql, room, account) => {
    if (changes % 2 !== 0) throw new Error('the number of changes must be even')
    const half = changes / 2
    await insertMessages(sql, room, account, 1, changes, changes + half)
    await insertMessages(sql, room, account, changes + 1, changes + half, changes + half, changes + 1, 2)
    const reaction = JSON.stringify([{ emoji: '👍', count: 1, user_ids: [account.user.id] }])
    await sql`
      update messages set rev = ${changes}::bigint + 2 * seq,
        message = case when seq % 2 = 1 then 'edited message ' || seq else message end,
        edited_at = case when seq % 2 = 1 then now() end,
        reactions = case when seq % 2 = 0 then ${reaction}::jsonb else reactions end
      where room_id = ${room.id} and seq <= ${half}`
    await sql`
      insert into message_reactions (message_id, emoji, user_id)
      select id, '👍', ${account.user.id} from messages
      where room_id = ${room.id} and seq <= ${half} and seq % 2 = 0 order by seq`
    return { lastSeq: changes + half, lastRev: 2 * changes }
  })
