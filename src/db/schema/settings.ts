import { pgTable, text } from 'drizzle-orm/pg-core'

/** Server-wide values that every instance on one database must share (the cursor-signing secret). */
export const settings = pgTable('settings', {
  key: text().primaryKey(),
  value: text().notNull()
})
