import { bigint, boolean, index, integer, pgTable, primaryKey, serial, text, timestamp, unique } from 'drizzle-orm/pg-core'
import { users } from './users.js'

export const rooms = pgTable('rooms', {
  id: serial().primaryKey(),
  name: text().notNull().unique(),
  description: text().notNull().default(''),
  roomAvatar: text(),
  isPrivate: boolean().notNull().default(false),
  ownerId: integer().references(() => users.id, { onDelete: 'set null' }),
  /** The last seq handed out; a send moves it forward in the transaction that inserts the message. */
  lastSeq: bigint({ mode: 'number' }).notNull().default(0),
  /** The last rev handed out: every change to the room's messages takes the next one, under this row's lock. */
  lastRev: bigint({ mode: 'number' }).notNull().default(0),
  /** A direct room's two members, the lower id first; both null for every other room. */
  directLow: integer().references(() => users.id, { onDelete: 'cascade' }),
  directHigh: integer().references(() => users.id, { onDelete: 'cascade' }),
  createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow()
}, (table) => [
  // One direct room per pair, even when both ask at once on different instances.
  unique('rooms_direct_pair_unique').on(table.directLow, table.directHigh)
])

/** A room's row as stored. */
export type RoomRow = typeof rooms.$inferSelect

export const roomMembers = pgTable('room_members', {
  roomId: integer().notNull().references(() => rooms.id, { onDelete: 'cascade' }),
  userId: integer().notNull().references(() => users.id, { onDelete: 'cascade' }),
  role: text({ enum: ['owner', 'member'] }).notNull().default('member'),
  joinedAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
  lastReadSeq: bigint({ mode: 'number' }).notNull().default(0)
}, (table) => [
  primaryKey({ columns: [table.roomId, table.userId] }),
  index().on(table.userId)
])

export type MemberRow = typeof roomMembers.$inferSelect
