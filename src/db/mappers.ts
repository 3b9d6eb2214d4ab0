import type { MessageRow, RoomRow, UserRow } from './schema/index.js'
import type { Message, ReplyTo } from '../schemas/messages.js'
import type { Room } from '../schemas/rooms.js'
import type { User } from '../schemas/users.js'

/** A room's row with its members counted (a subquery of the room queries). */
type RoomWithCount = RoomRow & { membersCount: number }

/** The API's User object from a row: its public fields only. */
export const toUser = (row: Pick<UserRow, 'id' | 'username' | 'firstName' | 'lastName'>): User =>
  ({ id: row.id, username: row.username, first_name: row.firstName, last_name: row.lastName })

/** A room as one user sees it (see `selectViews` in src/repositories/rooms.ts). */
export type RoomView = RoomWithCount & {
  lastReadSeq: number | null
  unreadCount: number | null
  unreadMentions: number | null
  lastMessage: Message | null
  peer: User | null
}

/** The API's Room object. */
export const toRoom = (row: RoomView): Room => ({
  id: row.id,
  name: row.name,
  description: row.description,
  room_avatar: row.roomAvatar,
  is_private: row.isPrivate,
  created_at: row.createdAt.toISOString(),
  updated_at: row.updatedAt.toISOString(),
  members_count: row.membersCount,
  unread_count: row.unreadCount,
  unread_mentions: row.unreadMentions,
  last_read_seq: row.lastReadSeq,
  last_message: row.lastMessage,
  rev: row.lastRev,
  is_direct: row.directLow !== null,
  peer: row.peer
})

/** The API's Message object: the same for a history page and a live frame. */
export const toMessage = (row: MessageRow, room: string, sender: User): Message => ({
  id: row.id,
  room,
  seq: row.seq,
  message: row.message,
  message_type: row.messageType,
  sender,
  created_at: row.createdAt.toISOString(),
  client_id: row.clientId,
  rev: row.rev,
  edited_at: row.editedAt?.toISOString() ?? null,
  deleted: row.deleted,
  reply_to: row.replyTo === null ? null : toReplyTo(row.replyTo),
  reactions: row.reactions,
  mentions: row.mentions
})

/** Stored as jsonb, which orders keys its own way: rebuilt in the schema's order, so every frame reads the same. */
const toReplyTo = ({ id, seq, sender, excerpt }: ReplyTo): ReplyTo => ({
  id,
  seq,
  sender: { id: sender.id, username: sender.username, first_name: sender.first_name, last_name: sender.last_name },
  excerpt
})
