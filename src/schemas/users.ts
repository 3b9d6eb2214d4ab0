import { Type, type Static } from '@sinclair/typebox'
import { Password, Username } from './common.js'

export const User = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  first_name: Type.String(),
  last_name: Type.String()
}, { $id: 'User' })
export type User = Static<typeof User>

export const UserRef = Type.Ref(User)

/** A member of a room, as the members list shows them. */
export const Member = Type.Composite([
  User,
  Type.Object({
    last_read_seq: Type.Integer({ minimum: 0, description: 'Read up to this seq' }),
    online: Type.Boolean({ description: 'A socket of theirs is open in this room, on any instance' })
  })
], { $id: 'Member' })
export type Member = Static<typeof Member>

export const RegisterBody = Type.Object({
  username: Username,
  password: Password,
  first_name: Type.Optional(Type.String({ maxLength: 150 })),
  last_name: Type.Optional(Type.String({ maxLength: 150 })),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 }))
}, { additionalProperties: false })

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 150 }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })

export const TokenResponse = Type.Object({
  token: Type.String({ pattern: '^[0-9a-f]{40}$' }),
  user: UserRef
}, { $id: 'TokenResponse' })

export const UsernameBody = Type.Object({ username: Username }, { additionalProperties: false })
