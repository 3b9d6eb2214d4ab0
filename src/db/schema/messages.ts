import { getTableColumns, sql } from 'drizzle-orm'
import { bigint, bigserial, boolean, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique } from 'drizzle-orm/pg-core'
import { messageTypes, type Reaction, type ReplyTo } from '../../schemas/messages.js'
import { rooms } from './rooms.js'
import { users } from './users.js'

/** Full-text search: the words of the text (src/chat/message-text.ts `searchWords`), null for a tombstone. */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })

export const messages = pgTable('messages', {
  // number mode: ids are JSON numbers in the API, and 2^53 messages is far away
  id: bigserial({ mode: 'number' }).primaryKey(),
  roomId: integer().notNull().references(() => rooms.id, { onDelete: 'cascade' }),
  seq: bigint({ mode: 'number' }).notNull(),
  senderId: integer().notNull().references(() => users.id, { onDelete: 'cascade' }),
  message: text().notNull(),
  messageType: text({ enum: messageTypes }).notNull().default('text'),
  clientId: text(),
  createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
  /** The room's rev of this message's latest change (new, edit, deletion, reaction). */
  rev: bigint({ mode: 'number' }).notNull(),
  /** The rev it was stored with: a replay by rev sends it as `message` to a client that has not seen it yet. */
  createdRev: bigint({ mode: 'number' }).notNull(),
  editedAt: timestamp({ withTimezone: true, precision: 3 }),
  deleted: boolean().notNull().default(false),
  /** The answered message, as shown: taken when the reply is sent; its excerpt is cleared when that one is deleted. */
  replyToId: bigint({ mode: 'number' }),
  replyTo: jsonb().$type<ReplyTo>(),
  /** One entry per emoji, as shown (the first 50 users); `message_reactions` holds every reaction. */
  reactions: jsonb().$type<Reaction[]>().notNull().default([]),
  mentions: integer().array().notNull().default(sql`'{}'::integer[]`),
  search: tsvector()
}, (table) => [
  // (room_id, seq) is the history index: keyset pages and replays seek on it
  unique().on(table.roomId, table.seq),
  // (room_id, rev): resume by rev and the changes feed seek on it
  unique().on(table.roomId, table.rev),
  unique().on(table.roomId, table.senderId, table.clientId),
  index().on(table.senderId),
  index().on(table.replyToId).where(sql`${table.replyToId} is not null`),
  // unread counts leave out the deleted messages after a read position: a seek on the few deleted ones
  index('messages_deleted_idx').on(table.roomId, table.seq).where(sql`${table.deleted}`),
  index('messages_search_idx').using('gin', table.search),
  // a search in one room reads its messages newest first by (created_at, id) before it asks the GIN index
  index('messages_room_time_idx').on(table.roomId, table.createdAt, table.id)
])

/**
 * Who each message mentions, while it is not deleted: a member's unread mentions are a seek on
 * (room_id, user_id, seq > last_read_seq), not a count over the room's history.
 */
export const messageMentions = pgTable('message_mentions', {
  roomId: integer().notNull(),
  userId: integer().notNull().references(() => users.id, { onDelete: 'cascade' }),
  seq: bigint({ mode: 'number' }).notNull(),
  messageId: bigint({ mode: 'number' }).notNull().references(() => messages.id, { onDelete: 'cascade' })
}, (table) => [
  primaryKey({ columns: [table.roomId, table.userId, table.seq] }),
  index().on(table.messageId)
])

/** Every reaction, in the order they were made (`id`): who reacted with what. */
export const messageReactions = pgTable('message_reactions', {
  id: bigserial({ mode: 'number' }).notNull(),
  messageId: bigint({ mode: 'number' }).notNull().references(() => messages.id, { onDelete: 'cascade' }),
  emoji: text().notNull(),
  userId: integer().notNull().references(() => users.id, { onDelete: 'cascade' })
}, (table) => [
  primaryKey({ columns: [table.messageId, table.emoji, table.userId] }),
  index().on(table.messageId, table.emoji, table.id)
])

/** A message's columns as read back: all but its search words, which only the search index uses. */
const { search: _search, ...shownColumns } = getTableColumns(messages)
export const messageColumns = shownColumns

export type MessageRow = Omit<typeof messages.$inferSelect, 'search'>
