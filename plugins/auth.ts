import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { authenticationFailed, HttpError, notAuthenticated } from '../src/lib/http-error.js'
import { decodedName } from '../src/lib/redact.js'
import { isWellFormedToken, tokenFromAuthorization } from '../src/lib/tokens.js'
import { RoomName } from '../src/schemas/common.js'
import type { UserRow } from '../src/db/schema/index.js'
import type { Authenticated } from '../src/repositories/users.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route is a socket upgrade: it also takes the token from `?token=` and the subprotocol pair. */
    socketToken?: boolean
  }
  interface FastifyInstance {
    /** An onRequest/preValidation hook: sets `request.user` and `request.tokenId`, or answers 401 (429: see limits). */
    authenticate: (request: FastifyRequest, reply?: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    user: UserRow
    tokenId: number
    /** On routes under a room name: that room and the caller's membership, read with the token (see `loadRoom`). */
    roomLookup: Authenticated['inRoom']
  }
}

const roomNameCheck = TypeCompiler.Compile(RoomName)

/** The `token.<t>` entry of `Sec-WebSocket-Protocol: chat, token.<t>`, for browsers that cannot set a header. */
function tokenFromSubprotocol (header: string | undefined): string | undefined {
  for (const protocol of header?.split(',') ?? []) {
    const trimmed = protocol.trim()
    if (trimmed.startsWith('token.')) return trimmed.slice('token.'.length)
  }
  return undefined
}

/**
 * The `?token=` of a socket URL: only one parameter named literally `token`. A name the query parser also reads as
 * `token` (`%74oken`) or one like it (`token[]`, `TOKEN`) is refused, so what authenticates is what logs redact.
 */
function tokenFromQuery (request: FastifyRequest): string | undefined {
  const search = request.url.split('#')[0]!.split('?').slice(1).join('?')
  let literal = 0
  for (const pair of search === '' ? [] : search.split('&')) {
    const name = pair.split('=')[0]!
    if (name === 'token') literal++
    else if (decodedName(name).startsWith('token')) throw badTokenParameter()
  }
  const { token } = request.query as { token?: unknown }
  if (literal === 0 && token === undefined) return undefined
  if (literal !== 1 || typeof token !== 'string') throw badTokenParameter()
  return token
}

const badTokenParameter = () => new HttpError(400, 'validation_error', 'Send the token as one plain `token` query parameter.',
  [{ field: '/token', message: 'must be one parameter named `token`' }])

/**
 * The token of a request. REST takes it from the Authorization header only, whatever its Upgrade header says; a
 * route with `config.socketToken` (the socket upgrade) also takes `?token=` (the Kotlin
 * example) and the subprotocol pair.
 */
function requestToken (request: FastifyRequest): string | undefined {
  const fromHeader = tokenFromAuthorization(request.headers.authorization)
  if (request.routeOptions.config.socketToken !== true) return fromHeader
  const fromQuery = tokenFromQuery(request)
  return fromHeader ?? fromQuery ?? tokenFromSubprotocol(request.headers['sec-websocket-protocol'])
}

export default fp(async function auth (fastify) {
  const { usersRepository, socketAccess, limits } = fastify
  fastify.decorateRequest('user', null as unknown as UserRow)
  fastify.decorateRequest('tokenId', 0)
  fastify.decorateRequest('roomLookup', undefined)

  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest, reply?: FastifyReply) {
    const token = requestToken(request)
    if (token === undefined) throw notAuthenticated()
    await limits.authFailuresPerIp(request, reply)
    // Under a room name, the room comes in the same query; `loadRoom` decides what the caller may know of it.
    // Only a name the route's validation will accept is looked up: the others are refused with a 400 after this
    // hook, as before, and never reach the database (a NUL byte there would be a server error).
    const { room_name: roomName } = request.params as { room_name?: unknown }
    const named = roomNameCheck.Check(roomName) ? roomName : undefined
    // A malformed token cannot match: refuse it without a query. A socket upgrade may read a cached admission
    // (reconnect storms); REST reads the database every time.
    const found = !isWellFormedToken(token)
      ? undefined
      : request.routeOptions.config.socketToken === true && named !== undefined
        ? await socketAccess.authenticate(token, named)
        : await usersRepository.authenticate(token, named)
    if (found === undefined) {
      await limits.authFailed(request)
      throw authenticationFailed()
    }
    request.user = found.user
    request.tokenId = found.tokenId
    request.roomLookup = found.inRoom
  })
}, { name: 'auth', dependencies: ['users-repository', 'access-cache', 'rate-limit'] })
