import type { Static } from '@sinclair/typebox'
import type { ErrorResponse } from '../src/schemas/errors.js'
import type { ErrorFrame as ErrorFrameSchema, PresenceEvent, ReadEvent as ReadEventSchema, TypingEvent } from '../src/schemas/frames.js'
import type { ChangesPage, Message, MessagePage, Reaction, ReplyTo } from '../src/schemas/messages.js'
import type { Room, RoomListItem, RoomPage } from '../src/schemas/rooms.js'
import type { Member, TokenResponse as TokenResponseSchema, User } from '../src/schemas/users.js'

// Types only: the client ships none of the server's code, and its shapes are the server's schemas.
export type { ErrorResponse, Member, Message, Reaction, ReplyTo, User }

/** A Room as the caller sees it: read state, unread counts, last message, direct-room peer. */
export type ChatRoom = Room
/** An all-groups entry: a Room and whether the caller is in it. */
export type ChatRoomListItem = Static<typeof RoomListItem>
export type RoomsPage = Static<typeof RoomPage>
export type MessagesPage = Static<typeof MessagePage>
export type Changes = Static<typeof ChangesPage>
export type TokenResponse = Static<typeof TokenResponseSchema>

export type MessageFrame = Message & { type: 'message' }
export type MessageUpdatedFrame = Message & { type: 'message_updated' }
export type ReadEvent = Static<typeof ReadEventSchema>
export type ErrorFrame = Static<typeof ErrorFrameSchema>
export type ServerFrame = MessageFrame | MessageUpdatedFrame | ReadEvent | ErrorFrame |
  Static<typeof TypingEvent> | Static<typeof PresenceEvent> | { type: 'pong' }
