import { Type, type Static } from '@sinclair/typebox'
import { Page, RoomName, Timestamp } from './common.js'
import { Message, messageExample } from './messages.js'
import { User } from './users.js'

const Description = Type.String({ maxLength: 1000 })
const RoomAvatar = Type.Union([Type.String({ format: 'uri', maxLength: 2048 }), Type.Null()])

export const Room = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  room_avatar: Type.Union([Type.String(), Type.Null()]),
  is_private: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  members_count: Type.Integer(),
  unread_count: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: "Messages after the caller's read position, not sent by the caller, not deleted; null for a non-member"
  }),
  unread_mentions: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'Of the unread messages, those that mention the caller; null for a non-member'
  }),
  last_read_seq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: "The caller's read position (a seq); null for a non-member"
  }),
  last_message: Type.Union([Type.Ref(Message), Type.Null()], {
    description: 'The newest message that is not deleted; null when there is none, or the room is private and the caller not in it'
  }),
  rev: Type.Integer({ minimum: 0, description: 'The room\'s latest rev' }),
  is_direct: Type.Boolean({ description: 'A direct room of exactly two people (POST /api/chat/direct/)' }),
  peer: Type.Union([Type.Ref(User), Type.Null()], { description: 'In a direct room, the other member; else null' })
}, {
  $id: 'Room',
  examples: [{
    id: 3,
    name: '2nd_year',
    description: 'Room for second-year students',
    room_avatar: null,
    is_private: false,
    created_at: '2025-02-13T09:00:00.000Z',
    updated_at: '2025-02-13T09:00:00.000Z',
    members_count: 24,
    unread_count: 5,
    unread_mentions: 1,
    last_read_seq: 12,
    last_message: messageExample,
    rev: 23,
    is_direct: false,
    peer: null
  }]
})
export type Room = Static<typeof Room>

export const RoomListItem = Type.Composite([
  Room,
  Type.Object({ is_member: Type.Boolean() })
], { $id: 'RoomListItem' })

export const RoomPage = Page(Type.Ref(RoomListItem), 'RoomPage')

export const CreateRoomBody = Type.Object({
  name: RoomName,
  description: Type.Optional(Description),
  room_avatar: Type.Optional(RoomAvatar),
  is_private: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const UpdateRoomBody = Type.Object({
  description: Type.Optional(Description),
  room_avatar: Type.Optional(RoomAvatar),
  is_private: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const AllGroupsQuery = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 100 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String())
}, { additionalProperties: false })

export const ReadBody = Type.Object({
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Read up to this seq (clamped to the room\'s last)' })
}, { additionalProperties: false })
