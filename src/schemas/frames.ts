import { Type, type Static } from '@sinclair/typebox'
import { User } from './users.js'

// Client → server frames. Each is checked by its own compiled schema once its `type` is known.
export const SendFrame = Type.Object({
  type: Type.Optional(Type.Literal('message')),
  message: Type.String({ maxLength: 16000 }),
  message_type: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('image'), Type.Literal('file')])),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  reply_to: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], {
    description: 'The id of the message this one answers, in the same room and not deleted'
  }))
}, { additionalProperties: false, $id: 'SendFrame' })
export type SendFrame = Static<typeof SendFrame>

export const TypingFrame = Type.Object({ type: Type.Literal('typing') }, { additionalProperties: false })
export const ReadFrame = Type.Object({
  type: Type.Literal('read'),
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
}, { additionalProperties: false })
export const PingFrame = Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false })

// Server → client frames.
const SocketErrorCode = Type.Union(
  ['invalid_json', 'validation_error', 'throttled', 'unavailable'].map((code) => Type.Literal(code))
)
export type SocketErrorCodeValue = Static<typeof SocketErrorCode>

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: SocketErrorCode,
  detail: Type.String(),
  client_id: Type.Optional(Type.String())
}, { $id: 'ErrorFrame' })

export const TypingEvent = Type.Object({ type: Type.Literal('typing'), user: Type.Ref(User) }, { $id: 'TypingEvent' })
export const ReadEvent = Type.Object({
  type: Type.Literal('read'),
  user: Type.Ref(User),
  seq: Type.Integer({ minimum: 0, description: 'Their read position after the move' })
}, { $id: 'ReadEvent' })
export const PresenceEvent = Type.Object({
  type: Type.Literal('presence'),
  user: Type.Ref(User),
  online: Type.Boolean()
}, { $id: 'PresenceEvent' })
export const PongFrame = Type.Object({ type: Type.Literal('pong') }, { $id: 'PongFrame' })
