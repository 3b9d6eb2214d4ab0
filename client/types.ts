import type { Static } from '@sinclair/typebox'
import type { ErrorResponse } from '../src/schemas/errors.js'
import type { PresenceEvent, TypingEvent } from '../src/schemas/frames.js'
import type { ChangesPage, Message, MessagePage, Reaction, ReplyTo } from '../src/schemas/messages.js'
import type { Room, RoomListItem, RoomPage } from '../src/schemas/rooms.js'
import type { User } from '../src/schemas/users.js'

// Types only: the client ships none of the server's code, and its shapes follow the server's schemas.
export type { ErrorResponse, Message, Reaction, ReplyTo, User }

/**
 * What contract 0.2 adds to every Room (read state, the room list, direct rooms). Optional here, so the client
 * works against a server that does not send them yet; once the server's Room schema has them, their types win.
 */
export interface RoomReadState {
  unread_count?: number | null
  unread_mentions?: number | null
  last_read_seq?: number | null
  last_message?: Message | null
  rev?: number
  is_direct?: boolean
  peer?: User | null
}

export type ChatRoom = Room & RoomReadState
/** An all-groups entry: a Room and whether the caller is in it. */
export type ChatRoomListItem = ChatRoom & Pick<Static<typeof RoomListItem>, 'is_member'>
export type RoomsPage = Omit<Static<typeof RoomPage>, 'results'> & { results: ChatRoomListItem[] }
export type MessagesPage = Static<typeof MessagePage>
export type Changes = Static<typeof ChangesPage>
/** A member as 0.2 lists them: read position and presence, when the server sends them. */
export type Member = User & { last_read_seq?: number | null, online?: boolean }

export interface TokenResponse { token: string, user: User }

export type MessageFrame = Message & { type: 'message' }
export type MessageUpdatedFrame = Message & { type: 'message_updated' }
export interface ReadEvent { type: 'read', user: User, seq: number }
export interface ErrorFrame { type: 'error', code: string, detail: string, client_id?: string }
export type ServerFrame = MessageFrame | MessageUpdatedFrame | ReadEvent | ErrorFrame |
  Static<typeof TypingEvent> | Static<typeof PresenceEvent> | { type: 'pong' }
