import { bigint, bigserial, index, integer, pgTable, text, timestamp, unique } from 'drizzle-orm/pg-core'
import { rooms } from './rooms.js'
import { users } from './users.js'

export const messageTypes = ['text', 'image', 'file', 'system'] as const

export const messages = pgTable('messages', {
  // number mode: ids are JSON numbers in the API, and 2^53 messages is far away
  id: bigserial({ mode: 'number' }).primaryKey(),
  roomId: integer().notNull().references(() => rooms.id, { onDelete: 'cascade' }),
  seq: bigint({ mode: 'number' }).notNull(),
  senderId: integer().notNull().references(() => users.id, { onDelete: 'cascade' }),
  message: text().notNull(),
  messageType: text({ enum: messageTypes }).notNull().default('text'),
  clientId: text(),
  createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow()
}, (table) => [
  // (room_id, seq) is the history index: keyset pages and replays seek on it
  unique().on(table.roomId, table.seq),
  unique().on(table.roomId, table.senderId, table.clientId),
  index().on(table.senderId)
])

export type MessageRow = typeof messages.$inferSelect
