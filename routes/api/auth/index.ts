import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toUser } from '../../../src/db/mappers.js'
import { authenticationFailed } from '../../../src/lib/http-error.js'
import { dummyHash, hashPassword, verifyPassword } from '../../../src/lib/password.js'
import { assertStrongPassword } from '../../../src/lib/password-policy.js'
import { errors } from '../../../src/schemas/errors.js'
import { LoginBody, RegisterBody, TokenResponse, UserRef } from '../../../src/schemas/users.js'

const auth: FastifyPluginAsyncTypebox = async (fastify) => {
  const { usersRepository, broker, authenticate, limits } = fastify
  const cost = fastify.config.PASSWORD_SCRYPT_N
  const dummy = dummyHash(cost)
  const authenticated = [authenticate, limits.restPerToken]
  const tags = ['auth']

  fastify.post('/register/', {
    onRequest: limits.authPerIp,
    schema: {
      tags,
      operationId: 'register',
      summary: 'Create an account and get its token',
      body: RegisterBody,
      response: { 201: Type.Ref(TokenResponse), ...errors(400, 409, 413, 429, 500, 503) }
    }
  }, async (request, reply) => {
    const { username, password, first_name: firstName, last_name: lastName, email } = request.body
    assertStrongPassword(password, username)
    const user = await usersRepository.create({ username, passwordHash: await hashPassword(password, cost), firstName, lastName, email })
    const token = await usersRepository.issueToken(user.id)
    return reply.code(201).send({ token, user: toUser(user) })
  })

  fastify.post('/login/', {
    onRequest: limits.authPerIp,
    preHandler: limits.loginPerUsername,
    schema: {
      tags,
      operationId: 'login',
      summary: 'Exchange a username and password for a new token',
      body: LoginBody,
      response: { 200: Type.Ref(TokenResponse), ...errors(400, 401, 413, 429, 500, 503) }
    }
  }, async (request) => {
    const { username, password } = request.body
    const user = await usersRepository.findByUsername(username)
    // An unknown username costs as much as a wrong password, so timing does not tell which usernames exist.
    const valid = await verifyPassword(password, user?.passwordHash ?? await dummy)
    if (user === undefined || !valid) throw authenticationFailed('Unable to log in with the provided credentials.')
    // The attempt was counted as a failure against the username (see `limits.loginPerUsername`).
    await limits.loginSucceeded(request)
    return { token: await usersRepository.issueToken(user.id), user: toUser(user) }
  })

  fastify.post('/logout/', {
    onRequest: authenticated,
    schema: {
      tags,
      operationId: 'logout',
      summary: 'Revoke the token used; its live sockets close with 4401',
      security: [{ Token: [] }],
      response: { 204: Type.Null({ description: 'Logged out' }), ...errors(400, 401, 413, 429, 500, 503) }
    }
  }, async (request, reply) => {
    await usersRepository.revokeToken(request.tokenId)
    await broker.publishControl({ type: 'token_revoked', tokenId: request.tokenId })
    return reply.code(204).send(null)
  })

  fastify.get('/me/', {
    onRequest: authenticated,
    schema: {
      tags,
      operationId: 'me',
      summary: 'The user the token belongs to',
      security: [{ Token: [] }],
      response: { 200: UserRef, ...errors(401, 429, 500, 503) }
    }
  }, async (request) => toUser(request.user))
}

export default auth
