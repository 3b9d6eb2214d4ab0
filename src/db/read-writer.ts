import type { Database } from './client.js'
import { retryingConflicts } from '../lib/db-errors.js'

interface Pending {
  roomId: number
  userId: number
  seq: number
  waiting: Array<{ resolve: (seq: number | undefined) => void, reject: (error: unknown) => void }>
}

const MAX_ATTEMPTS = 3

/**
 * Read positions, by group commit: a member reading every message of a busy room sends a `read` frame per message,
 * and a hundred of them would be thousands of transactions a second. Marks that arrive while a statement is in
 * flight wait and go together in the next one; marks of the same member in the same room become one, the highest.
 * A position moves forward only, and never beyond the room's last seq. Statements are at least `minIntervalMs`
 * apart unless a caller is waiting (see `mark`).
 */
export class ReadWriter {
  private pending = new Map<string, Pending>()
  private flushing: Promise<void> | undefined
  /** Ends the wait between two statements early. */
  private hurry: (() => void) | undefined
  private urgent = false

  constructor (private readonly database: Pick<Database, 'query'>, private readonly minIntervalMs = 200) {}

  /**
   * Resolves after the commit with the position after the move, or undefined when it did not move. `now`: a
   * caller waits for the answer (a REST read), so the next statement does not wait for the interval.
   */
  mark (roomId: number, userId: number, seq: number, now = false): Promise<number | undefined> {
    if (now) this.hurry?.()
    return new Promise((resolve, reject) => {
      const key = `${roomId}:${userId}`
      let entry = this.pending.get(key)
      if (entry === undefined) this.pending.set(key, entry = { roomId, userId, seq, waiting: [] })
      entry.seq = Math.max(entry.seq, seq)
      entry.waiting.push({ resolve, reject })
      if (now) this.urgent = true
      this.flushing ??= this.drain()
    })
  }

  /** Resolves once every mark queued so far has been settled. */
  async idle (): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
  }

  private async drain (): Promise<void> {
    await Promise.resolve()
    while (this.pending.size > 0) {
      const started = performance.now()
      const batch = [...this.pending.values()]
      this.pending = new Map()
      await this.commit(batch)
      // At most one statement per interval, unless a caller waits: a member's marks in the meantime become one
      // row. A socket's read frames are not acknowledged, and their `read` frames go out once a second at most.
      const wait = this.minIntervalMs - (performance.now() - started)
      if (wait > 0 && this.pending.size > 0 && !this.urgent) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          this.hurry = () => { clearTimeout(timer); resolve() }
        })
        this.hurry = undefined
      }
      this.urgent = false
    }
    this.flushing = undefined
  }

  private async commit (batch: Pending[]): Promise<void> {
    const marks = JSON.stringify(batch.map(({ roomId, userId, seq }) => ({ room_id: roomId, user_id: userId, seq })))
    try {
      // Two instances marking the same members in another order can deadlock: one of them tries again.
      const rows = await retryingConflicts(() =>
        this.database.query<{ room_id: number, user_id: number, seq: number }>(MARK_READ, [marks]), MAX_ATTEMPTS)
      const moved = new Map(rows.map((row) => [`${row.room_id}:${row.user_id}`, Number(row.seq)]))
      for (const entry of batch) {
        const seq = moved.get(`${entry.roomId}:${entry.userId}`)
        for (const { resolve } of entry.waiting) resolve(seq)
      }
    } catch (error) {
      for (const entry of batch) for (const { reject } of entry.waiting) reject(error)
    }
  }
}

// Only the rows that move are written and returned. A non-member has no row: nothing happens.
const MARK_READ = `
  update room_members rm set last_read_seq = least(d.seq, r.last_seq)
  from jsonb_to_recordset($1::text::jsonb) as d(room_id int, user_id int, seq bigint)
  join rooms r on r.id = d.room_id
  where rm.room_id = d.room_id and rm.user_id = d.user_id and rm.last_read_seq < least(d.seq, r.last_seq)
  returning rm.room_id, rm.user_id, rm.last_read_seq::float8 as seq`
