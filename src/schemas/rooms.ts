import { Type, type Static } from '@sinclair/typebox'
import { Page, RoomName, Timestamp } from './common.js'

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
  members_count: Type.Integer()
}, { $id: 'Room' })
export type Room = Static<typeof Room>

export const RoomListItem = Type.Composite([
  Type.Omit(Room, ['$id'] as never),
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
