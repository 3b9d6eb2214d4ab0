import { Type, type Static } from '@sinclair/typebox'
import { Page, Timestamp } from './common.js'
import { User } from './users.js'

export const messageTypes = ['text', 'image', 'file', 'system'] as const
const MessageType = Type.Union(messageTypes.map((type) => Type.Literal(type)))

export const ReplyTo = Type.Object({
  id: Type.Integer(),
  seq: Type.Integer({ minimum: 1 }),
  sender: Type.Ref(User),
  excerpt: Type.String({ description: 'The first 200 characters of its text when the reply was sent; "" once it is deleted' })
}, { $id: 'ReplyTo', description: 'The message this one answers, in the same room' })
export type ReplyTo = Static<typeof ReplyTo>

export const Reaction = Type.Object({
  emoji: Type.String(),
  count: Type.Integer({ minimum: 1 }),
  user_ids: Type.Array(Type.Integer(), { description: 'The first 50 users who reacted with it, in reaction order' })
}, { $id: 'Reaction' })
export type Reaction = Static<typeof Reaction>

/** A Message as the documents show it (the Room example's `last_message` too). */
export const messageExample = {
  id: 42,
  room: '2nd_year',
  seq: 17,
  message: '@anagh agreed, see you at 10',
  message_type: 'text',
  sender: { id: 2, username: 'priya', first_name: 'Priya', last_name: '' },
  created_at: '2025-02-13T10:00:00.000Z',
  client_id: 'b6f1c2e0-5d1a-4c9e-9a57-3f0e7c2d9a11',
  rev: 23,
  edited_at: '2025-02-13T10:01:30.000Z',
  deleted: false,
  reply_to: { id: 41, seq: 16, sender: { id: 1, username: 'anagh', first_name: 'Anagh', last_name: '' }, excerpt: 'Meet at 10 tomorrow?' },
  reactions: [{ emoji: '👍', count: 2, user_ids: [1, 3] }],
  mentions: [1]
}

/** One schema for history pages and live frames: no field depends on who reads it. */
export const Message = Type.Object({
  id: Type.Integer(),
  room: Type.String(),
  seq: Type.Integer({ minimum: 1 }),
  // No minimum length: a deleted message's text is "".
  message: Type.String(),
  message_type: MessageType,
  sender: Type.Ref(User),
  created_at: Timestamp,
  client_id: Type.Union([Type.String(), Type.Null()]),
  rev: Type.Integer({ minimum: 1, description: 'The room\'s rev of this message\'s latest change' }),
  edited_at: Type.Union([Timestamp, Type.Null()], { description: 'When its text was last edited' }),
  deleted: Type.Boolean({ description: 'A tombstone: `message` is "", `reactions` [], `reply_to` null' }),
  reply_to: Type.Union([Type.Ref(ReplyTo), Type.Null()]),
  reactions: Type.Array(Type.Ref(Reaction), { description: 'One entry per emoji, in the order each was first used' }),
  mentions: Type.Array(Type.Integer(), { description: 'Members named as @username in the text, in order of first mention' })
}, {
  $id: 'Message',
  examples: [messageExample]
})
export type Message = Static<typeof Message>

export const MessagePage = Page(Type.Ref(Message), 'MessagePage')

/** `GET …/changes/`: the messages changed after `since`, and the rev to pass as `since` next time. */
export const ChangesPage = Type.Object({
  results: Type.Array(Type.Ref(Message)),
  rev: Type.Integer({ minimum: 0, description: 'Pass it as `since` next time' }),
  has_more: Type.Boolean({ description: 'More changes follow: ask again with `since=rev` at once' })
}, { $id: 'ChangesPage' })

export const SendBody = Type.Object({
  message: Type.String({ maxLength: 16000, description: '1..4000 characters after trimming; for image and file, the http(s) URL' }),
  message_type: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file')], { default: 'text' })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Makes retries idempotent' })),
  reply_to: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], {
    description: 'The id of the message this one answers, in the same room and not deleted'
  }))
}, { additionalProperties: false })

export const EditBody = Type.Object({
  message: Type.String({ maxLength: 16000, description: 'The new text, 1..4000 characters after trimming' })
}, { additionalProperties: false })
