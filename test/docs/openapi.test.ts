import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import type { OpenAPIV3 } from 'openapi-types'
import t from 'tap'
import { artifactFiles, openApiText } from '../../src/docs/artifacts.js'
import { api, createRoom, register, uniqueName } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

// One server for the file; the document does not depend on the database.
const server = await startServer(t)
const served = await api<OpenAPIV3.Document>(server.url, 'GET', '/docs/json')
const document = served.body

type Operation = OpenAPIV3.OperationObject & { method: string, path: string }
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const
const operations: Operation[] = Object.entries(document.paths).flatMap(([path, item]) =>
  METHODS.flatMap((method) => item?.[method] === undefined ? [] : [{ ...item[method], method, path }]))
const statuses = (operation: Operation) => Object.keys(operation.responses).map(Number)
const isSecured = (operation: Operation) => (operation.security ?? []).length > 0

/**
 * Every route of the API (docs/api.md) with every status it can answer. 401 wherever a token is needed, 404 and
 * 400 under a room name, 400 and 413 wherever a body is parsed (POST, PATCH, DELETE), 503 wherever the database
 * is touched, 429 on the API and the socket (the API's rate limit), 500 for a bug.
 */
const statusesByRoute: Record<string, number[]> = {
  'post /api/auth/register/': [201, 400, 409, 413, 429, 500, 503],
  'post /api/auth/login/': [200, 400, 401, 413, 429, 500, 503],
  'post /api/auth/logout/': [204, 400, 401, 413, 429, 500, 503],
  'get /api/auth/me/': [200, 401, 429, 500, 503],
  'get /api/chat/groups/': [200, 401, 429, 500, 503],
  'post /api/chat/groups/': [201, 400, 401, 409, 413, 429, 500, 503],
  'get /api/chat/groups/{room_name}/': [200, 400, 401, 404, 429, 500, 503],
  'patch /api/chat/groups/{room_name}/': [200, 400, 401, 403, 404, 413, 429, 500, 503],
  'delete /api/chat/groups/{room_name}/': [204, 400, 401, 403, 404, 413, 429, 500, 503],
  'get /api/chat/groups/{room_name}/members/': [200, 400, 401, 403, 404, 429, 500, 503],
  'post /api/chat/groups/{room_name}/members/': [201, 400, 401, 403, 404, 409, 413, 429, 500, 503],
  'delete /api/chat/groups/{room_name}/members/{username}/': [204, 400, 401, 403, 404, 413, 429, 500, 503],
  'post /api/chat/groups/{room_name}/join/': [200, 400, 401, 403, 404, 413, 429, 500, 503],
  'post /api/chat/groups/{room_name}/leave/': [204, 400, 401, 403, 404, 413, 429, 500, 503],
  'post /api/chat/groups/{room_name}/read/': [204, 400, 401, 403, 404, 413, 429, 500, 503],
  'get /api/chat/groups/{room_name}/messages/': [200, 400, 401, 403, 404, 429, 500, 503],
  'post /api/chat/groups/{room_name}/messages/': [200, 201, 400, 401, 403, 404, 413, 429, 500, 503],
  'get /api/chat/groups/{room_name}/messages/{message_id}/': [200, 400, 401, 403, 404, 429, 500, 503],
  'patch /api/chat/groups/{room_name}/messages/{message_id}/': [200, 400, 401, 403, 404, 413, 429, 500, 503],
  'delete /api/chat/groups/{room_name}/messages/{message_id}/': [204, 400, 401, 403, 404, 413, 429, 500, 503],
  'put /api/chat/groups/{room_name}/messages/{message_id}/reactions/{emoji}/': [200, 400, 401, 403, 404, 429, 500, 503],
  'delete /api/chat/groups/{room_name}/messages/{message_id}/reactions/{emoji}/': [200, 400, 401, 403, 404, 413, 429, 500, 503],
  'get /api/chat/groups/{room_name}/changes/': [200, 400, 401, 403, 404, 429, 500, 503],
  'get /api/chat/all-groups/': [200, 400, 401, 429, 500, 503],
  'post /api/chat/direct/': [200, 201, 400, 401, 404, 413, 429, 500, 503],
  'get /api/chat/search/': [200, 400, 401, 403, 404, 429, 500, 503],
  'get /ws/chat/{room_name}/': [101, 400, 401, 403, 404, 429, 500, 503],
  'get /healthz': [200],
  'get /readyz': [200, 503],
  'get /metrics': [200, 401]
}

t.test('the served document is a valid OpenAPI 3 document (swagger-parser)', async (t) => {
  t.equal(served.status, 200)
  t.equal(document.openapi, '3.0.3')
  // validate() dereferences in place: give it a copy.
  const validated = await SwaggerParser.validate(structuredClone(document) as never)
  t.equal(Object.keys(validated.paths ?? {}).length, Object.keys(document.paths).length, 'every path survives validation')
})

t.test('the committed openapi.json is exactly what the server generates', async (t) => {
  const committed = readFileSync(artifactFiles.openapi, 'utf8')
  t.equal(committed, openApiText(document), 'openapi.json differs from the server\'s document: run `npm run openapi`')
})

t.test('every route of the API is documented with every status it can answer', async (t) => {
  const documented = Object.fromEntries(operations.map((op) => [`${op.method} ${op.path}`, statuses(op)]))
  t.same(documented, statusesByRoute)
})

t.test('authenticated routes require the Token scheme and document 401 and 503', async (t) => {
  const open = ['register', 'login', 'healthz', 'readyz', 'metrics']
  t.match(document.components?.securitySchemes?.Token, { type: 'apiKey', in: 'header', name: 'Authorization' })
  for (const op of operations) {
    if (open.includes(op.operationId!)) {
      t.notOk(isSecured(op), `${op.operationId} needs no token`)
      continue
    }
    t.same(op.security?.[0], { Token: [] }, `${op.operationId} uses the Token scheme`)
    t.ok(statuses(op).includes(401) && statuses(op).includes(503), `${op.operationId} documents 401 and 503`)
  }
})

t.test('routes under a room name document 400 and 404; routes that parse a body, 400 and 413', async (t) => {
  for (const op of operations) {
    if (op.path.includes('{room_name}')) {
      t.ok(statuses(op).includes(400) && statuses(op).includes(404), `${op.operationId} documents 400 and 404`)
    }
    if (['post', 'patch', 'delete'].includes(op.method)) {
      t.ok(statuses(op).includes(400) && statuses(op).includes(413), `${op.operationId} documents 400 and 413`)
    }
  }
})

t.test('every error response is the shared ErrorResponse, described by its codes', async (t) => {
  for (const op of operations) {
    for (const [status, response] of Object.entries(op.responses) as Array<[string, OpenAPIV3.ResponseObject]>) {
      if (Number(status) < 400) continue
      t.same(response.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorResponse' },
        `${op.operationId} ${status} is an ErrorResponse`)
      t.not(response.description, 'Default Response', `${op.operationId} ${status} is described`)
    }
  }
  const throttled = document.paths['/api/auth/login/']?.post?.responses['429'] as OpenAPIV3.ResponseObject
  t.ok(throttled.headers?.['Retry-After'], '429 documents Retry-After')
})

t.test('shared schemas are components that the operations refer to', async (t) => {
  const schemas = document.components?.schemas ?? {}
  t.same(Object.keys(schemas),
    ['ChangesPage', 'ErrorResponse', 'Member', 'Message', 'MessagePage', 'Reaction', 'ReplyTo', 'Room', 'RoomListItem', 'RoomPage', 'TokenResponse', 'User'])
  const body = (path: string, method: 'get' | 'post', status: string) =>
    (document.paths[path]?.[method]?.responses[status] as OpenAPIV3.ResponseObject).content?.['application/json']?.schema
  t.same(body('/api/chat/groups/{room_name}/messages/', 'get', '200'), { $ref: '#/components/schemas/MessagePage' })
  t.same(body('/api/chat/all-groups/', 'get', '200'), { $ref: '#/components/schemas/RoomPage' })
  t.same(body('/api/auth/login/', 'post', '200'), { $ref: '#/components/schemas/TokenResponse' })
  t.same(body('/api/chat/groups/', 'get', '200'), { type: 'array', items: { $ref: '#/components/schemas/Room' } })
  // Generators make a plain enum of message_type, not a union of one-value enums.
  t.same((schemas.Message as OpenAPIV3.SchemaObject).properties?.message_type,
    { type: 'string', enum: ['text', 'image', 'file', 'system'] })
})

t.test('operation ids are unique camelCase names; every operation has a summary and a tag', async (t) => {
  const ids = operations.map((op) => op.operationId)
  t.equal(new Set(ids).size, ids.length, 'unique')
  for (const op of operations) {
    t.match(op.operationId, /^[a-z][a-zA-Z]+$/, `${op.method} ${op.path} has a camelCase operationId`)
    t.ok((op.summary ?? '').length > 0, `${op.operationId} has a summary`)
    t.equal(op.tags?.length, 1, `${op.operationId} has a tag`)
  }
})

t.test('the socket is documented as a GET that answers 101 or refuses before the upgrade', async (t) => {
  const socket = document.paths['/ws/chat/{room_name}/']?.get
  t.ok(socket, 'documented')
  t.equal(socket?.operationId, 'chatSocket')
  t.match((socket?.responses['101'] as OpenAPIV3.ResponseObject).description, /Switching/)
  const parameters = (socket?.parameters ?? []) as OpenAPIV3.ParameterObject[]
  t.same(parameters.map((p) => `${p.in}:${p.name}`).sort(), ['path:room_name', 'query:last_rev', 'query:last_seq'])
  // `?token=` is the TokenQuery scheme (so swagger lists it with the schemes, not as a parameter).
  t.same(socket?.security, [{ Token: [] }, { TokenQuery: [] }], 'the header or ?token=')
  t.match(document.components?.securitySchemes?.TokenQuery, { type: 'apiKey', in: 'query', name: 'token' })
  t.match(document.tags?.find((tag) => tag.name === 'socket')?.externalDocs?.url, '/docs/asyncapi')
})

t.test('Swagger UI and the documents are served, and the docs routes are not API operations', async (t) => {
  const ui = await fetch(`${server.url}/docs`)
  t.equal(ui.status, 200)
  t.match(ui.headers.get('content-type'), /text\/html/)
  await ui.text()
  t.match(served.headers.get('content-type'), /application\/json/)
  t.notOk(Object.keys(document.paths).some((path) => path.startsWith('/docs')), 'no /docs path in the document')
})

t.test('the server answers the documented error statuses where the document says', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const tooLarge = JSON.stringify({ filler: 'x'.repeat(server.config.BODY_LIMIT) })
  // A body that passes validation, so the room lookup (404) is what answers.
  const validBodies: Record<string, unknown> = {
    updateGroup: {},
    addGroupMember: { username: 'nobody_here' },
    sendGroupMessage: { message: 'hi' },
    editGroupMessage: { message: 'hi' },
    markGroupRead: { seq: 1 }
  }
  const url = (op: Operation, roomName: string) =>
    op.path.replace('{room_name}', roomName).replace('{username}', stranger.user.username)
      .replace('{message_id}', '1').replace('{emoji}', 'x')
  const check = async (op: Operation, status: number, code: string, what: string,
    options: Parameters<typeof api>[3], roomName = room.name) => {
    const response = await api(server.url, op.method.toUpperCase(), url(op, roomName), options)
    t.equal(response.status, status, `${op.operationId}: ${what} → ${status}`)
    t.equal(response.body?.code, code, `${op.operationId}: ${what} → ${code}`)
    t.ok(statuses(op).includes(response.status), `${op.operationId}: ${response.status} is documented`)
  }
  for (const op of operations) {
    if (isSecured(op)) await check(op, 401, 'not_authenticated', 'no token', {})
    if (['post', 'patch', 'delete'].includes(op.method)) {
      const token = isSecured(op) ? owner.token : undefined
      await check(op, 413, 'payload_too_large', 'a body over the limit', { token, raw: tooLarge })
    }
    if (op.path.includes('{room_name}')) {
      const body = validBodies[op.operationId!]
      await check(op, 404, 'not_found', 'an unknown room', { token: owner.token, body }, uniqueName('gone'))
      await check(op, 400, 'validation_error', 'a malformed room name', { token: owner.token, body }, 'bad%20name!')
    }
  }
})
