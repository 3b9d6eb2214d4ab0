import { and, asc, desc, eq, gt, lt, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { toMessage, toUser } from '../db/mappers.js'
import type { MessageWriter } from '../db/message-writer.js'
import type { ReadWriter } from '../db/read-writer.js'
import { messageColumns, messages, publicUserColumns, roomMembers, rooms, users } from '../db/schema/index.js'
import type { Cursor } from '../lib/cursor.js'
import { keysetPage } from '../lib/keyset.js'
import type { Message } from '../schemas/messages.js'

/**
 * How many of a room's messages a search reads in page order before it asks the index of words (see `search`): the
 * first FIRST_WINDOW, and when those hold a match but not a page, up to SEARCH_WINDOW in all.
 */
const FIRST_WINDOW = 1000
const SEARCH_WINDOW = 10_000

/** A search page's order: newest first by (created_at, id) towards older pages, oldest first towards newer ones. */
const pageOrder = (from: { createdAt: AnyColumn, id: AnyColumn }, older: boolean) =>
  older ? [desc(from.createdAt), desc(from.id)] : [asc(from.createdAt), asc(from.id)]

/** The messages after `key` (a SearchKey, or placeholders for one) in page order. */
const pastKey = (key: readonly [unknown, unknown] | undefined, older: boolean) => {
  if (key === undefined) return undefined
  const at = sql`(${key[0]}::timestamptz, ${key[1]}::bigint)`
  return older ? sql`(${messages.createdAt}, ${messages.id}) < ${at}` : sql`(${messages.createdAt}, ${messages.id}) > ${at}`
}

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

  /** A message's columns and its words, for a subquery of searched messages. */
  const searchable = () => db.select({ ...messageColumns, search: messages.search }).from(messages).$dynamic()
  type Found = ReturnType<ReturnType<typeof searchable>['as']>
  /**
   * The messages a subquery picked, with their senders and room names, in page order. The subquery picks them from
   * `messages` alone, so that no join can change how it finds them: joined to `users` in one query, the planner
   * chose a merge join on the sender, reading `messages` whole in sender order for a rare word (its estimate of
   * when the join could stop was off), 300 ms on a table of 1,250,000 rows where the word index takes 0.2 ms.
   */
  const withSenders = (found: Found, older: boolean) => {
    const columns = Object.fromEntries(Object.keys(messageColumns).map((name) => [name, found[name as keyof typeof messageColumns]])) as
      unknown as typeof messageColumns
    return db.select({ message: columns, sender: publicUserColumns, roomName: rooms.name })
      .from(found)
      .innerJoin(rooms, eq(rooms.id, found.roomId))
      .innerJoin(users, eq(users.id, found.senderId))
      .orderBy(...pageOrder(found, older))
      .$dynamic()
  }

  // The window's two statements, prepared for each way of paging (from a key or not, towards older messages or
  // newer): building them had cost as much as running them. `at` and `id` are the key's parts.
  const placeholderKey = [sql.placeholder('at'), sql.placeholder('id')] as const
  const prepareWindow = (keyed: boolean, older: boolean) => {
    const name = `search_window_${keyed ? 'key' : 'first'}_${older ? 'older' : 'newer'}`
    const inRoom = and(eq(messages.roomId, sql.placeholder('roomId')), pastKey(keyed ? placeholderKey : undefined, older))
    // The window streams in the order of the page, so the scan stops at the page's last match.
    const recent = searchable()
      .where(inRoom).orderBy(...pageOrder(messages, older)).limit(sql.placeholder('size')).as('found')
    return {
      matches: withSenders(recent, older)
        .where(and(sql`${recent.search} @@ ${sql.placeholder('query')}::tsquery`, eq(recent.deleted, false)))
        .limit(sql.placeholder('count'))
        .prepare(`${name}_matches`),
      // The message that ends a window and the one after it, from the index alone.
      end: db.select({ createdAt: messages.createdAt, id: messages.id }).from(messages)
        .where(inRoom).orderBy(...pageOrder(messages, older)).limit(2).offset(sql.placeholder('offset'))
        .prepare(`${name}_end`)
    }
  }
  const windowStatements = {
    first: { older: prepareWindow(false, true), newer: prepareWindow(false, false) },
    keyed: { older: prepareWindow(true, true), newer: prepareWindow(true, false) }
  }
  const windowStatement = (key: SearchKey | undefined, older: boolean) =>
    windowStatements[key === undefined ? 'first' : 'keyed'][older ? 'older' : 'newer']

  /** Up to `count` matches of `query` among the room's next `size` messages after `key`, in page order. */
  const windowMatches = async (roomId: number, query: string, key: SearchKey | undefined, older: boolean, size: number, count: number) => {
    const rows = await windowStatement(key, older).matches.execute({ roomId, at: key?.[0], id: key?.[1], size, query, count })
    return rows.map((row) => toMessage(row.message, row.roomName, toUser(row.sender)))
  }

  /**
   * The key of the room's `n`th message after `key` in page order, and whether more follow it; undefined when
   * fewer follow `key`.
   */
  const windowEnd = async (roomId: number, key: SearchKey | undefined, older: boolean, n: number) => {
    const [end, next] = await windowStatement(key, older).end.execute({ roomId, at: key?.[0], id: key?.[1], offset: n - 1 })
    return end === undefined ? undefined : { key: [end.createdAt.toISOString(), end.id] satisfies SearchKey, more: next !== undefined }
  }

  /**
   * A search page from the room's messages after `key` in page order, read in windows: the first FIRST_WINDOW,
   * then up to SEARCH_WINDOW in all when the first held a match. Undefined when the windows hold less than a page
   * and the room has more beyond them: the index of words is the way there.
   */
  const searchWindows = async (roomId: number, query: string, key: SearchKey | undefined, older: boolean, count: number) => {
    const first = await windowMatches(roomId, query, key, older, FIRST_WINDOW, count)
    if (first.length >= count) return first
    const firstEnd = await windowEnd(roomId, key, older, FIRST_WINDOW)
    if (firstEnd?.more !== true) return first
    if (first.length === 0) return undefined
    const rest = SEARCH_WINDOW - FIRST_WINDOW
    const found = [...first, ...await windowMatches(roomId, query, firstEnd.key, older, rest, count - first.length)]
    if (found.length >= count || (await windowEnd(roomId, firstEnd.key, older, rest))?.more !== true) return found
    return undefined
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
     * literal, see `searchQuery`), newest first by (created_at, id), in keyset pages; deleted messages have no words.
     * Over all the caller's rooms, the GIN index on the words finds the matches and they are sorted. In one room, a
     * word in one message of a few hundred fills its page from the room's next messages in page order (a walk of its
     * (room_id, created_at, id) index, see `searchWindows`), where the GIN index would read every match, and build
     * its bitmap of them first whatever the LIMIT; the index is asked when the windows hold less than a page.
     */
    search: (userId: number, roomId: number | undefined, query: string, cursor: Cursor<SearchKey> | undefined, limit: number) =>
      keysetPage(cursor, limit, async (direction, key, count) => {
        const older = direction === 'n'
        if (roomId !== undefined) {
          const found = await searchWindows(roomId, query, key, older, count)
          if (found !== undefined) return found
        }
        // In one room (the caller's membership checked by the route), the room is matched as `room_id + 0`: on
        // `room_id =` the planner would read the room's rows from a (room_id, …) index to intersect them with the
        // word's. `+ 0` keeps it from seeking on (room_id, created_at, id) too: it guesses every word at 2 % of the rows and would walk the
        // room's history backwards for a rare one. The GIN index is the way here.
        const matching = searchable()
        const found = (roomId === undefined
          ? matching.innerJoin(roomMembers, and(eq(roomMembers.roomId, messages.roomId), eq(roomMembers.userId, userId)))
          : matching)
          .where(and(sql`${messages.search} @@ ${query}::tsquery`, eq(messages.deleted, false), pastKey(key, older),
            roomId === undefined ? undefined : sql`${messages.roomId} + 0 = ${roomId}`))
          .orderBy(...pageOrder(messages, older))
          .limit(count)
          .as('found')
        const rows = await withSenders(found, older)
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
