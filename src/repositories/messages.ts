import { and, asc, desc, eq, gt, lt, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { toMessage, toUser } from '../db/mappers.js'
import type { MessageWriter } from '../db/message-writer.js'
import type { ReadWriter } from '../db/read-writer.js'
import { messageColumns, messages, publicUserColumns, roomMembers, rooms, users } from '../db/schema/index.js'
import type { Cursor } from '../lib/cursor.js'
import { keysetPage } from '../lib/keyset.js'
import type { Message } from '../schemas/messages.js'

export function createMessagesRepository (db: Db, writer: MessageWriter, reads: ReadWriter) {
  // Prepared, one per seek: drizzle builds the SQL once and PostgreSQL parses it once per connection (it is still
  // planned at each run, see src/db/client.ts). A page is the hot read path, and building the query had cost more
  // than running it.
  const seekQuery = (name: string, bound: SQL | undefined, order: SQL) => db.select({ message: messageColumns, sender: publicUserColumns })
    .from(messages)
    .innerJoin(users, eq(users.id, messages.senderId))
    .where(and(eq(messages.roomId, sql.placeholder('roomId')), bound))
    .orderBy(order)
    .limit(sql.placeholder('limit'))
    .prepare(name)
  const seekQueries = {
    newest: seekQuery('messages_newest', undefined, desc(messages.seq)),
    before: seekQuery('messages_before', lt(messages.seq, sql.placeholder('seq')), desc(messages.seq)),
    after: seekQuery('messages_after', gt(messages.seq, sql.placeholder('seq')), asc(messages.seq)),
    // On the (room_id, rev) index: the changes feed, resume by rev and gap repair.
    changed: seekQuery('messages_changed', gt(messages.rev, sql.placeholder('seq')), asc(messages.rev)),
    one: seekQuery('messages_one', eq(messages.id, sql.placeholder('seq')), asc(messages.id))
  }
  const roomRev = db.select({ lastRev: rooms.lastRev }).from(rooms).where(eq(rooms.id, sql.placeholder('roomId')))
    .prepare('room_rev')

  /** A room's messages around `seq` on the (room_id, seq) index: after it ascending, or before it descending. */
  const seek = async (roomId: number, roomName: string, direction: 'after' | 'before', seq: number | undefined,
    limit: number): Promise<Message[]> => {
    const query = seq === undefined ? (direction === 'after' ? seekQueries.after : seekQueries.newest) : seekQueries[direction]
    const rows = await query.execute({ roomId, seq: seq ?? 0, limit })
    return rows.map((row) => toMessage(row.message, roomName, toUser(row.sender)))
  }

  /** Messages changed after `rev`, in rev order, in their current state, with the rev each was stored with. */
  const changedAfter = async (roomId: number, roomName: string, rev: number, limit: number) => {
    const rows = await seekQueries.changed.execute({ roomId, seq: rev, limit })
    return rows.map((row) => ({ message: toMessage(row.message, roomName, toUser(row.sender)), createdRev: row.message.createdRev }))
  }

  return {
    /** Stores a message (group commit); resolves after the commit. */
    send: writer.send.bind(writer),

    /** Edits, deletes, reacts (group commit); resolves after the commit. */
    change: writer.change.bind(writer),

    changedAfter,

    /** One message of the room in its current state, tombstones included. */
    async one (roomId: number, roomName: string, id: number): Promise<Message | undefined> {
      const [row] = await seekQueries.one.execute({ roomId, seq: id, limit: 1 })
      return row === undefined ? undefined : toMessage(row.message, roomName, toUser(row.sender))
    },

    /**
     * The changes feed: the messages whose rev is above `since`, in rev order, and the rev to ask from next. The
     * room's rev is read first: every rev up to it is committed, so a page that ends the feed ends at it.
     */
    async changes (roomId: number, roomName: string, since: number, limit: number) {
      const [room] = await roomRev.execute({ roomId })
      const page = await changedAfter(roomId, roomName, since, limit + 1)
      const hasMore = page.length > limit
      const results = page.slice(0, limit).map((entry) => entry.message)
      const rev = hasMore ? results.at(-1)!.rev : Math.max(room?.lastRev ?? 0, results.at(-1)?.rev ?? 0)
      return { results, rev, has_more: hasMore }
    },

    /**
     * Search: the messages of the rooms `userId` is in (or of one of them) whose words match `query` (a tsquery
     * literal, see `searchQuery`), newest first by (created_at, id), in keyset pages. The GIN index on the words
     * finds the matches; deleted messages have none.
     */
    search: (userId: number, roomId: number | undefined, query: string, cursor: Cursor<SearchKey> | undefined, limit: number) =>
      keysetPage(cursor, limit, async (direction, key, count) => {
        const at = key === undefined ? undefined : sql`(${key[0]}::timestamptz, ${key[1]}::bigint)`
        const seek = at === undefined
          ? undefined
          : direction === 'n' ? sql`(${messages.createdAt}, ${messages.id}) < ${at}` : sql`(${messages.createdAt}, ${messages.id}) > ${at}`
        const rows = await db.select({ message: messageColumns, sender: publicUserColumns, roomName: rooms.name }).from(messages)
          .innerJoin(roomMembers, and(eq(roomMembers.roomId, messages.roomId), eq(roomMembers.userId, userId)))
          .innerJoin(rooms, eq(rooms.id, messages.roomId))
          .innerJoin(users, eq(users.id, messages.senderId))
          .where(and(sql`${messages.search} @@ ${query}::tsquery`, eq(messages.deleted, false),
            roomId === undefined ? undefined : eq(messages.roomId, roomId), seek))
          .orderBy(...(direction === 'n' ? [desc(messages.createdAt), desc(messages.id)] : [asc(messages.createdAt), asc(messages.id)]))
          .limit(count)
        return rows.map((row) => toMessage(row.message, row.roomName, toUser(row.sender)))
      }, (message): SearchKey => [message.created_at, message.id]),

    /** Messages with seq > `seq`, oldest first: replays and gap repair. */
    after: (roomId: number, roomName: string, seq: number, limit: number) =>
      seek(roomId, roomName, 'after', seq, limit),

    /** One page of history, newest first; `next` leads to older messages. */
    page: (roomId: number, roomName: string, cursor: Cursor<number> | undefined, limit: number) =>
      keysetPage(cursor, limit,
        (direction, key, count) => seek(roomId, roomName, direction === 'n' ? 'before' : 'after', key, count),
        (message) => message.seq),

    /**
     * Moves a member's read position forward to `seq` (at most the room's last seq), by group commit; resolves
     * after the commit with the new position, or undefined when it did not move.
     */
    markRead: reads.mark.bind(reads)
  }
}

/** A search page's key: a message's created_at and id. */
export type SearchKey = [string, number]
