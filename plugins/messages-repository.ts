import { and, asc, desc, eq, gt, lt, sql, type SQL } from 'drizzle-orm'
import fp from 'fastify-plugin'
import { messageFrame } from '../src/chat/protocol.js'
import type { Db } from '../src/db/client.js'
import { toMessage, toUser } from '../src/db/mappers.js'
import { MessageWriter } from '../src/db/message-writer.js'
import { messages, roomMembers, users } from '../src/db/schema/index.js'
import type { Cursor } from '../src/lib/cursor.js'
import { keysetPage } from '../src/lib/keyset.js'
import type { Message } from '../src/schemas/messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    messagesRepository: ReturnType<typeof createMessagesRepository>
  }
}

/** The sender's public fields only: a page carries 50 of them, and nothing else of the row is shown. */
const sender = { id: users.id, username: users.username, firstName: users.firstName, lastName: users.lastName }

export function createMessagesRepository (db: Db, writer: MessageWriter) {
  // Prepared, one per seek: drizzle builds the SQL once and PostgreSQL parses it once per connection (it is still
  // planned at each run, see src/db/client.ts). A page is the hot read path, and building the query had cost more
  // than running it.
  const seekQuery = (name: string, bound: SQL | undefined, order: SQL) => db.select({ message: messages, sender })
    .from(messages)
    .innerJoin(users, eq(users.id, messages.senderId))
    .where(and(eq(messages.roomId, sql.placeholder('roomId')), bound))
    .orderBy(order)
    .limit(sql.placeholder('limit'))
    .prepare(name)
  const seekQueries = {
    newest: seekQuery('messages_newest', undefined, desc(messages.seq)),
    before: seekQuery('messages_before', lt(messages.seq, sql.placeholder('seq')), desc(messages.seq)),
    after: seekQuery('messages_after', gt(messages.seq, sql.placeholder('seq')), asc(messages.seq))
  }

  /** A room's messages around `seq` on the (room_id, seq) index: after it ascending, or before it descending. */
  const seek = async (roomId: number, roomName: string, direction: 'after' | 'before', seq: number | undefined,
    limit: number): Promise<Message[]> => {
    const query = seq === undefined ? (direction === 'after' ? seekQueries.after : seekQueries.newest) : seekQueries[direction]
    const rows = await query.execute({ roomId, seq: seq ?? 0, limit })
    return rows.map((row) => toMessage(row.message, roomName, toUser(row.sender)))
  }

  return {
    /** Stores a message (group commit); resolves after the commit. */
    send: writer.send.bind(writer),

    /** Messages with seq > `seq`, oldest first: replays and gap repair. */
    after: (roomId: number, roomName: string, seq: number, limit: number) =>
      seek(roomId, roomName, 'after', seq, limit),

    /** One page of history, newest first; `next` leads to older messages. */
    page: (roomId: number, roomName: string, cursor: Cursor<number> | undefined, limit: number) =>
      keysetPage(cursor, limit,
        (direction, key, count) => seek(roomId, roomName, direction === 'n' ? 'before' : 'after', key, count),
        (message) => message.seq),

    /** Marks a room read up to `seq` for a member; never moves backwards. */
    async markRead (roomId: number, userId: number, seq: number): Promise<void> {
      await db.update(roomMembers).set({ lastReadSeq: sql`greatest(${roomMembers.lastReadSeq}, ${seq}::bigint)` })
        .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
    }
  }
}

/** History queries, and the group-commit writer that publishes each stored message once, after its commit. */
export default fp(async function messagesRepository (fastify) {
  const { broker, config, log, metrics } = fastify
  const writer = new MessageWriter(fastify.database.query, config.BATCH_MAX_MESSAGES, (created) => {
    metrics.messagesStored.inc(created.length)
    metrics.batchSize.observe(created.length)
    for (const { roomId, message } of created) {
      // Serialized once here; every socket in every instance is sent these very bytes.
      broker.publishRoom(roomId, { type: 'message', seq: message.seq, frame: messageFrame(message) })
        .catch((error: unknown) => log.warn({ err: error, room: message.room }, 'publish failed'))
    }
  })
  fastify.decorate('messagesRepository', createMessagesRepository(fastify.database.orm, writer))
  // Sends still queued when the server closes are committed before the database closes.
  fastify.addHook('onClose', async () => { await writer.idle() })
}, { name: 'messages-repository', dependencies: ['db', 'broker', 'config', 'metrics'] })
