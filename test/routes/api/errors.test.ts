import { request as httpRequest } from 'node:http'
import t from 'tap'
import { api as rawApi, createRoom, parseBody, register, uniqueName, type ApiResponse } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError } from '../../helpers/assertions.js'

// One server for the file: every subtest uses its own users and rooms.
const server = await startServer(t)

// Every status this file sees, so the last test can say that no input of any kind gave a 5xx.
const seen: Array<{ what: string, status: number }> = []
const record = <R extends { status: number }>(what: string, response: R): R => {
  seen.push({ what, status: response.status })
  return response
}

const api = async (method: string, path: string, options: Parameters<typeof rawApi>[3] = {}) =>
  record(`${method} ${path}`, await rawApi(server.url, method, path, options))

const fields = (response: ApiResponse): string[] => (response.body?.errors ?? []).map((e: { field: string }) => e.field)

/** A request without fetch's conveniences: chunked bodies of unknown length, any header. Bounded by a timeout. */
function rawRequest (path: string, options: { method: string, headers: Record<string, string>, chunks: string[] }) {
  return new Promise<ApiResponse>((resolve, reject) => {
    const request = httpRequest(new URL(path, server.url), { method: options.method, headers: options.headers, timeout: 10_000 })
    request.on('timeout', () => request.destroy(new Error('request timed out')))
    request.on('response', (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => {
        resolve(record(`${options.method} ${path} (raw)`, { status: response.statusCode ?? 0, body: parseBody(text), headers: new Headers() }))
      })
    })
    // The server may answer 413 and close before every chunk is written; the answer is what counts.
    request.on('error', reject)
    for (const chunk of options.chunks) request.write(chunk)
    request.end()
  })
}

// The body-taking routes, each with a token that may use it (the room's owner, for PATCH and members), a valid
// body, and a way to see that a refused body left no trace.
const owner = await register(server.url)
const room = await createRoom(server.url, owner.token)
const password = 'correct horse'
interface BodyRoute {
  method: string
  path: string
  token?: string
  valid: () => Promise<Record<string, unknown>>
  untouched: (body: Record<string, unknown>) => Promise<boolean>
}
const bodyRoutes: BodyRoute[] = [
  {
    method: 'POST',
    path: '/api/auth/register/',
    valid: async () => ({ username: uniqueName(), password }),
    untouched: async (body) => (await api('POST', '/api/auth/login/', { body })).status === 401
  },
  {
    method: 'POST',
    path: '/api/auth/login/',
    valid: async () => ({ username: owner.user.username, password }),
    untouched: async () => true
  },
  {
    method: 'POST',
    path: '/api/chat/groups/',
    token: owner.token,
    valid: async () => ({ name: uniqueName('room') }),
    untouched: async (body) => (await api('GET', `/api/chat/groups/${String(body.name)}/`, { token: owner.token })).status === 404
  },
  {
    method: 'PATCH',
    path: `/api/chat/groups/${room.name}/`,
    token: owner.token,
    valid: async () => ({ description: uniqueName('changed') }),
    untouched: async (body) => {
      const current = await api('GET', `/api/chat/groups/${room.name}/`, { token: owner.token })
      return current.status === 200 && current.body.description !== body.description
    }
  },
  {
    method: 'POST',
    path: `/api/chat/groups/${room.name}/members/`,
    token: owner.token,
    valid: async () => ({ username: (await register(server.url)).user.username }),
    untouched: async (body) => {
      const members = await api('GET', `/api/chat/groups/${room.name}/members/`, { token: owner.token })
      return members.status === 200 && !members.body.some((user: { username: string }) => user.username === body.username)
    }
  }
]

t.test('a malformed JSON body is 400 validation_error on every body route', async (t) => {
  for (const route of bodyRoutes) {
    for (const raw of ['{', '{"username": }', 'not json', '{"a": 1,}', "{'a': 1}", '[1, 2']) {
      const response = await api(route.method, route.path, { token: route.token, raw })
      isError(t, response, 400, 'validation_error', `${route.method} ${route.path} ${raw}`)
    }
  }
})

t.test('a JSON body with __proto__ or constructor keys is 400 and leaves no trace', async (t) => {
  const injections = [
    '"__proto__": {"polluted": true}',
    '"__proto__": {"is_staff": true}',
    '"constructor": {"prototype": {"polluted": true}}',
    '"constructor": "x"',
    '"nested": {"__proto__": {"polluted": true}}'
  ]
  for (const route of bodyRoutes) {
    for (const injection of injections) {
      const body = await route.valid()
      const raw = JSON.stringify(body).replace(/^\{/, `{${injection}, `)
      const what = `${route.method} ${route.path} ${injection}`
      isError(t, await api(route.method, route.path, { token: route.token, raw }), 400, 'validation_error', what)
      t.ok(await route.untouched(body), `${what}: nothing changed`)
    }
  }
  // The server runs in this process: its prototypes are ours.
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal(({} as Record<string, unknown>).is_staff, undefined, 'Object.prototype untouched')
})

t.test('each valid body above is accepted, so the refusals were for the injected keys', async (t) => {
  for (const route of bodyRoutes) {
    const response = await api(route.method, route.path, { token: route.token, body: await route.valid() })
    t.ok(response.status >= 200 && response.status < 300, `${route.method} ${route.path}: ${response.status}`)
  }
})

t.test('a body over BODY_LIMIT is 413 payload_too_large', async (t) => {
  t.equal(server.config.BODY_LIMIT, 64 * 1024, 'the default limit')
  const big = JSON.stringify({ username: uniqueName(), password: 'correct horse', first_name: 'x'.repeat(70 * 1024) })
  for (const route of bodyRoutes) {
    isError(t, await api(route.method, route.path, { token: route.token, raw: big }), 413, 'payload_too_large',
      `${route.method} ${route.path}`)
  }
  // Without a Content-Length the limit holds too: the server counts what arrives.
  const chunked = await rawRequest('/api/auth/register/', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    chunks: [big.slice(0, 20_000), big.slice(20_000, 50_000), big.slice(50_000)]
  })
  isError(t, chunked, 413, 'payload_too_large', 'chunked')
})

t.test('a body just under BODY_LIMIT is read and validated, not refused for its size', async (t) => {
  const body = JSON.stringify({ username: uniqueName(), password: 'correct horse', first_name: 'x'.repeat(60 * 1024) })
  const response = await api('POST', '/api/auth/register/', { raw: body })
  isError(t, response, 400, 'validation_error')
  t.same(fields(response), ['/first_name'], 'the too-long field is named')
})

t.test('a deeply nested JSON body is 400, not a crash', async (t) => {
  const depth = 30_000
  const response = await api('POST', '/api/auth/register/', { raw: '['.repeat(depth) + ']'.repeat(depth) })
  isError(t, response, 400, 'validation_error')
  const objects = await api('POST', '/api/auth/register/', { raw: '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000) })
  isError(t, objects, 400, 'validation_error')
})

t.test('a valid body with another content type is 400, not 5xx, and leaves no trace', async (t) => {
  for (const route of bodyRoutes) {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/octet-stream']) {
      const body = await route.valid()
      const what = `${route.method} ${route.path} ${type}`
      const response = await api(route.method, route.path, { token: route.token, raw: JSON.stringify(body), headers: { 'content-type': type } })
      isError(t, response, 400, 'validation_error', what)
      t.ok(await route.untouched(body), `${what}: nothing changed`)
    }
  }
})

t.test('a JSON content type with a charset parameter is JSON', async (t) => {
  const response = await api('POST', '/api/auth/register/', {
    body: { username: uniqueName(), password: 'correct horse' },
    headers: { 'content-type': 'application/json; charset=utf-8' }
  })
  t.equal(response.status, 201)
})

t.test('a body route without a body is 400 validation_error', async (t) => {
  const response = await api('POST', '/api/auth/register/', { headers: { 'content-type': 'application/json' }, raw: '' })
  isError(t, response, 400, 'validation_error')
  const none = await api('POST', '/api/auth/login/')
  isError(t, none, 400, 'validation_error')
})

t.test('an empty JSON body to a route that takes none is accepted', async (t) => {
  const account = await register(server.url)
  const joined = await api('POST', `/api/chat/groups/${room.name}/join/`, {
    token: account.token, raw: '', headers: { 'content-type': 'application/json' }
  })
  t.equal(joined.status, 200, 'join')
  t.equal(joined.body.name, room.name)
  const left = await api('POST', `/api/chat/groups/${room.name}/leave/`, {
    token: account.token, raw: '', headers: { 'content-type': 'application/json' }
  })
  t.equal(left.status, 204, 'leave')
  const out = await api('POST', '/api/auth/logout/', { token: account.token, raw: '', headers: { 'content-type': 'application/json' } })
  t.equal(out.status, 204, 'logout')
  t.equal(out.body, null, 'logout answers an empty body')
  isError(t, await api('GET', '/api/auth/me/', { token: account.token }), 401, 'authentication_failed', 'the logout took effect:')
})

t.test('an unknown route is 404 not_found in the error shape', async (t) => {
  for (const [method, path] of [
    ['GET', '/nope'],
    ['GET', '/api/'],
    ['GET', '/api/nope/'],
    ['POST', '/api/auth/nope/'],
    ['GET', '/api/auth/register/'],
    ['DELETE', '/api/auth/me/'],
    ['GET', `/api/chat/groups/${room.name}/nope/`],
    ['PUT', '/api/chat/groups/']
  ] as const) {
    isError(t, await api(method, path, { token: owner.token }), 404, 'not_found', `${method} ${path}`)
  }
  isError(t, await api('GET', '/api/nope/'), 404, 'not_found', 'without a token')
})

t.test('a path parameter that fails its schema is 400 validation_error naming it', async (t) => {
  for (const name of ['bad!name', 'r'.repeat(101), 'sp%20ace']) {
    const response = await api('GET', `/api/chat/groups/${name}/`, { token: owner.token })
    isError(t, response, 400, 'validation_error', name.slice(0, 20))
    t.ok(fields(response).some((field) => field.includes('room_name')), `errors name room_name: ${JSON.stringify(fields(response))}`)
  }
})

t.test('all-groups limit outside 1..100 or not a number is 400 validation_error naming limit', async (t) => {
  for (const limit of ['0', '101', 'abc', '-1', '1.5', '']) {
    const response = await api('GET', `/api/chat/all-groups/?limit=${limit}`, { token: owner.token })
    if (limit === '') {
      // An empty value is no value for some parsers; either way it must not be a 5xx.
      t.ok([200, 400].includes(response.status), `limit= gives ${response.status}`)
      continue
    }
    isError(t, response, 400, 'validation_error', `limit=${limit}`)
    t.ok(fields(response).some((field) => field.includes('limit')), `limit=${limit}: errors name limit: ${JSON.stringify(fields(response))}`)
  }
  for (const limit of ['1', '100']) {
    const response = await api('GET', `/api/chat/all-groups/?limit=${limit}`, { token: owner.token })
    t.equal(response.status, 200, `limit=${limit} accepted`)
  }
})

t.test('all-groups with a cursor the server did not issue is 400 invalid_cursor', async (t) => {
  // Two rooms under one unique prefix give a first page with a real `next` cursor.
  const prefix = uniqueName('cur')
  await createRoom(server.url, owner.token, { name: `${prefix}_a` })
  await createRoom(server.url, owner.token, { name: `${prefix}_b` })
  const first = await api('GET', `/api/chat/all-groups/?search=${prefix}&limit=1`, { token: owner.token })
  t.equal(first.status, 200)
  t.type(first.body.next, 'string', 'a next link')
  const issued = new URL(first.body.next).searchParams.get('cursor') ?? ''
  const second = await api('GET', `/api/chat/all-groups/?search=${prefix}&limit=1&cursor=${encodeURIComponent(issued)}`,
    { token: owner.token })
  t.equal(second.status, 200, 'the issued cursor works')
  t.equal(second.body.results[0]?.name, `${prefix}_b`)

  // A changed first character of the body or of the signature (the signature's last character carries padding bits).
  const flip = (c: string) => c === 'A' ? 'B' : 'A'
  const [body, signature] = issued.split('.') as [string, string]
  const tampered = [
    `${body}.${flip(signature[0]!)}${signature.slice(1)}`,
    `${flip(body[0]!)}${body.slice(1)}.${signature}`,
    body,
    `${issued}.extra`
  ]
  for (const cursor of ['garbage', 'a.b', '..', '%00', ...tampered]) {
    const response = await api('GET', `/api/chat/all-groups/?cursor=${encodeURIComponent(cursor)}`, { token: owner.token })
    isError(t, response, 400, 'invalid_cursor', `cursor=${cursor.slice(0, 20)}`)
  }
})

t.test('every refused request above gave a 4xx and none a 5xx', async (t) => {
  t.ok(seen.length > 100, `${seen.length} requests made`)
  t.same(seen.filter(({ status }) => status >= 500 || status === 0), [], 'no 5xx')
})
