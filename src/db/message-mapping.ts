import type { messages } from './schema/index.js'
import type { Message } from '../schemas/messages.js'
import type { User } from '../schemas/users.js'

export type MessageRow = typeof messages.$inferSelect

/** The API's Message object: the same for a history page and a live frame. */
export const toMessage = (row: MessageRow, room: string, sender: User): Message => ({
  id: row.id,
  room,
  seq: row.seq,
  message: row.message,
  message_type: row.messageType,
  sender,
  created_at: row.createdAt.toISOString(),
  client_id: row.clientId
})
