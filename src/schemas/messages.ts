import { Type, type Static } from '@sinclair/typebox'
import { messageTypes } from '../db/schema/messages.js'
import { Page, Timestamp } from './common.js'
import { User } from './users.js'

export const MessageType = Type.Union(messageTypes.map((type) => Type.Literal(type)))

/** One schema for history pages and live frames. */
export const Message = Type.Object({
  id: Type.Integer(),
  room: Type.String(),
  seq: Type.Integer({ minimum: 1 }),
  message: Type.String(),
  message_type: MessageType,
  sender: Type.Ref(User),
  created_at: Timestamp,
  client_id: Type.Union([Type.String(), Type.Null()])
}, { $id: 'Message' })
export type Message = Static<typeof Message>

export const MessagePage = Page(Type.Ref(Message), 'MessagePage')
