import { sql } from 'drizzle-orm'
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique } from 'drizzle-orm/pg-core'
import { messageTypes, type Reaction, type ReplyTo } from '../../schemas/messages.js'
import { rooms } from './rooms.js'
import { users } from './users.js'

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
  mentions: integer().array().notNull().default(sql`'{}'::integer[]`)
}, (table) => [
  // (room_id, seq) is the history index: keyset pages and replays seek on it
  unique().on(table.roomId, table.seq),
  // (room_id, rev): resume by rev and the changes feed seek on it
  unique().on(table.roomId, table.rev),
  unique().on(table.roomId, table.senderId, table.clientId),
  index().on(table.senderId),
  index().on(table.replyToId).where(sql`${table.replyToId} is not null`)
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

export type MessageRow = typeof messages.$inferSelect
