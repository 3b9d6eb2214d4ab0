import fp from 'fastify-plugin'
import { ErrorResponse } from '../src/schemas/errors.js'
import { ChangesPage, Message, MessagePage, Reaction, ReplyTo } from '../src/schemas/messages.js'
import { Room, RoomListItem, RoomPage } from '../src/schemas/rooms.js'
import { Member, TokenResponse, User } from '../src/schemas/users.js'

/** Shared schemas, registered once by $id: routes refer to them, and the OpenAPI document lists them as components. */
export default fp(async function schemas (fastify) {
  for (const schema of [ErrorResponse, User, Member, TokenResponse, Room, RoomListItem, RoomPage, ReplyTo, Reaction, Message, MessagePage, ChangesPage]) {
    fastify.addSchema(schema)
  }
}, { name: 'schemas' })
