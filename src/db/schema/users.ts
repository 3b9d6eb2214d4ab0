import { sql } from 'drizzle-orm'
import { boolean, index, integer, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core'

export const users = pgTable('users', {
  id: serial().primaryKey(),
  username: text().notNull().unique(),
  passwordHash: text().notNull(),
  firstName: text().notNull().default(''),
  lastName: text().notNull().default(''),
  email: text().notNull().default(''),
  isStaff: boolean().notNull().default(false),
  createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow()
}, (table) => [
  // mentions are matched case-insensitively
  index('users_username_lower_idx').on(sql`lower(${table.username})`)
])

export type UserRow = typeof users.$inferSelect

/** A user's public fields (`toUser`): what a message's sender or a room's peer is read with, and nothing else. */
export const publicUserColumns = { id: users.id, username: users.username, firstName: users.firstName, lastName: users.lastName }

/** API tokens. Only a SHA-256 of the token is kept: a leaked table lets nobody in. */
export const tokens = pgTable('tokens', {
  id: serial().primaryKey(),
  keyHash: text().notNull().unique(),
  userId: integer().notNull().references(() => users.id, { onDelete: 'cascade' }),
  createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
  lastUsedAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow()
}, (table) => [index().on(table.userId)])
