/**
 * Fuzzing: generated bad input against one live server (fast-check), on every body route, the query strings, the
 * path segments and the socket's frames. Afterwards: no answer was a 5xx, every refusal had the API's error
 * shape, the server still answers, only the inputs it accepted left rows behind, and memory is back near its start.
 *
 * Bounded for CI: a few thousand inputs, well under a minute. For a longer run, FUZZ_RUNS sets the number of runs of
 * every property (by default 20..600 each), and FUZZ_SEED replays the seed a failure printed:
 *   FUZZ_RUNS=5000 npx tap --timeout=3600 --disable-coverage test/security/fuzz.test.ts
 */
import { randomBytes } from 'node:crypto'
import { Agent, request as httpRequest } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { and, asc, count, eq } from 'drizzle-orm'
import fc from 'fast-check'
import t from 'tap'
import { createRoom, join, openSocket, parseBody, register, uniqueName, type SocketClient } from '../helpers/client.js'
import { waitUntil } from '../helpers/cluster.js'
import { startServer } from '../helpers/server.js'
import { messages, roomMembers, rooms, tokens, users } from '../../src/db/schema/index.js'

// Limits so high that none hides the answer under test.
const server = await startServer(t, {
  RATE_LIMIT_AUTH_PER_IP: '1000000',
  RATE_LIMIT_LOGIN_PER_USERNAME: '1000000',
  RATE_LIMIT_REST_PER_TOKEN: '1000000',
  MESSAGE_BURST: '1000000'
})
const { orm: db } = server.app.database

const fuzzRuns = Number(process.env.FUZZ_RUNS ?? 0)
const runs = (base: number) => ({
  numRuns: fuzzRuns > 0 ? fuzzRuns : base,
  ...(process.env.FUZZ_SEED !== undefined ? { seed: Number(process.env.FUZZ_SEED) } : {})
})

// ---------------------------------------------------------------------------------------------------------------
// Answers: every one is recorded; a 5xx or a refusal out of the API's shape fails the property that made it,
// so fast-check shrinks it to the smallest input that does.

interface Answer { status: number, text: string, body: any }
const answers: Array<{ what: string, status: number }> = []

/** The API's codes by status (431: headers over Node's limit, answered as invalid input). */
const CODES: Record<number, string[]> = {
  400: ['validation_error', 'invalid_cursor'],
  401: ['not_authenticated', 'authentication_failed'],
  403: ['permission_denied'],
  404: ['not_found'],
  409: ['conflict'],
  413: ['payload_too_large'],
  431: ['validation_error']
}

function check (what: string, answer: Answer): Answer {
  answers.push({ what, status: answer.status })
  const fail = (why: string) => {
    throw new Error(`${what} -> ${answer.status} ${answer.text.slice(0, 300)}: ${why}`)
  }
  if (answer.status >= 500 || answer.status === 0) fail('a server error')
  if (answer.status < 300) return answer
  const body = answer.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('the body is not an error object')
  if (!(CODES[answer.status] ?? []).includes(body.code)) fail(`code ${body.code} does not go with ${answer.status}`)
  if (typeof body.detail !== 'string' || body.detail === '') fail('no detail')
  const keys = Object.keys(body).sort().join(',')
  if (keys !== (body.code === 'validation_error' ? 'code,detail,errors' : 'code,detail')) fail(`unexpected keys ${keys}`)
  if (body.errors !== undefined) {
    const items = body.errors as unknown[]
    const wellFormed = Array.isArray(items) && items.length > 0 && items.every((item: any) =>
      typeof item?.field === 'string' && typeof item?.message === 'string' && Object.keys(item).length === 2)
    if (!wellFormed) fail('malformed errors[]')
  }
  return answer
}

// Raw HTTP, so paths and query strings go out exactly as generated (fetch would normalize them).
const agent = new Agent({ keepAlive: true, maxSockets: 4 })

function send (method: string, path: string, options: { token?: string, body?: string | Buffer, type?: string } = {}) {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Token ${options.token}`
  if (options.body !== undefined) {
    if (options.type !== '') headers['content-type'] = options.type ?? 'application/json'
    headers['content-length'] = String(Buffer.byteLength(options.body))
  }
  return new Promise<Answer>((resolve, reject) => {
    const request = httpRequest(`${server.url}/`, { method, path, headers, agent, timeout: 10_000 })
    request.on('timeout', () => request.destroy(new Error(`${method} ${path.slice(0, 100)} timed out`)))
    request.on('response', (response) => collect(response, resolve))
    // The server may answer 413 and close before the whole body is written: the answer is what counts.
    request.on('error', reject)
    request.end(options.body)
  })
}

/** A WebSocket upgrade request; 101 when accepted (the socket is dropped at once), else the refusal. */
function handshake (path: string, token: string) {
  return new Promise<Answer>((resolve, reject) => {
    const request = httpRequest(`${server.url}/`, {
      path,
      agent: false,
      timeout: 10_000,
      headers: {
        authorization: `Token ${token}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64')
      }
    })
    request.on('timeout', () => request.destroy(new Error(`upgrade ${path.slice(0, 100)} timed out`)))
    request.on('upgrade', (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, text: '', body: null })
    })
    request.on('response', (response) => collect(response, resolve))
    request.on('error', reject)
    request.end()
  })
}

function collect (response: import('node:http').IncomingMessage, resolve: (answer: Answer) => void) {
  let text = ''
  response.setEncoding('utf8')
  response.on('data', (chunk: string) => { text += chunk })
  response.on('end', () => resolve({ status: response.statusCode ?? 0, text, body: parseBody(text) }))
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.

const nastyConstants = [
  '', ' ', '\t\n', '\u0000', 'a\u0000b', '%00', '.', '..', '../../etc/passwd', '..\\..\\windows', '/', '\\',
  "' OR '1'='1", "'; DROP TABLE users; --", '" OR ""="', "admin'--", '1; SELECT pg_sleep(10)', '%', '_', '%_%',
  '{"$ne": null}', '{"$gt": ""}', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '\ud800', '\udfff\ud800', '\u202e', '\ufeff', '\u200b', 'null', 'undefined', 'NaN', 'Infinity', '-0', '1e309',
  '<script>alert(1)</script>', 'javascript:alert(1)', 'http://', 'file:///etc/passwd', 'data:text/html,x',
  // eslint-disable-next-line no-template-curly-in-string -- a template-injection probe, as a plain string
  '%s%s%s%n', '${7*7}', '{{7*7}}', 'é'.repeat(200), '🙂'.repeat(1000), 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇', 'x'.repeat(5000)
]
const nastyString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'binary', minLength: 100, maxLength: 3000 }),
  fc.constantFrom(...nastyConstants)
)
const hugeNumber = fc.constantFrom(2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 31, -(2 ** 31) - 1, 1e308, -1e308,
  Number.MIN_VALUE, 0.1, -1, 0)
const wrongType = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), hugeNumber, fc.boolean(),
  fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.object({ maxDepth: 2, maxKeys: 3 }))

/** JSON text nested `depth` deep, under the body limit. */
const deepText = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 1, max: 6000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.integer({ min: 1, max: 3000 }).map((depth) => '{"a":'.repeat(depth) + '{"__proto__":{"isStaff":true}}' + '}'.repeat(depth))
)

/** A field's value as raw JSON text: wrong types, nasty strings, numbers JSON.stringify cannot write, deep nesting. */
const valueText = fc.oneof(
  { weight: 4, arbitrary: nastyString.map((value) => JSON.stringify(value)) },
  { weight: 3, arbitrary: wrongType.map((value) => JSON.stringify(value)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('1e999', '-1e999', '123456789012345678901234567890', '-0', '1e-400', '"\\u0000"',
      '"\\ud800"', '"a\\u0000b"', '{}', '[]', '{"__proto__":{"isStaff":true}}', '{"constructor":{"prototype":{"isStaff":true}}}')
  },
  { weight: 1, arbitrary: deepText }
)

const specialKeys = ['__proto__', 'constructor', 'prototype', 'is_staff', 'isStaff', 'id', 'owner_id', 'toString', '']
const keyFor = (fields: string[]) => fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...fields) },
  { weight: 2, arbitrary: fc.constantFrom(...specialKeys) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) }
)

/** A request body that is not JSON, not an object, malformed, or sent with the wrong content type. */
const strangeBody = fc.record({
  body: fc.oneof(
    fc.constantFrom('', 'null', '[]', '"x"', '1', 'true', '{', '{"a":1', '{"a":1}}', '{a:1}', "{'a':1}", '\ufeff{}',
      '{"a":1,}', 'NaN', 'Infinity', '[1,2', '\u0000', '{"username":"a\u0000"}', '{"a":"\\x41"}', '{"a":"\\ud800"}'),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    deepText,
    fc.constant('x'.repeat(70_000))
  ),
  type: fc.oneof(
    { weight: 5, arbitrary: fc.constant('application/json') },
    {
      weight: 1,
      arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
        'application/json; charset=utf-16', 'application/jsonx', 'application/octet-stream', '')
    }
  )
})

/** A body built on a valid one: some fields dropped, at least one set to a bad value or added. */
const mutatedBody = (fields: string[]) => fc.record({
  drop: fc.subarray(fields),
  set: fc.array(fc.tuple(keyFor(fields), valueText), { minLength: 1, maxLength: 4 })
})

type BodyCase = { kind: 'strange', body: string | Buffer, type: string } | { kind: 'mutated', drop: string[], set: Array<[string, string]> }
const bodyCase = (fields: string[]): fc.Arbitrary<BodyCase> => fc.oneof(
  { weight: 4, arbitrary: mutatedBody(fields).map((value) => ({ kind: 'mutated' as const, ...value })) },
  { weight: 1, arbitrary: strangeBody.map((value) => ({ kind: 'strange' as const, ...value })) }
)

/** The raw text of `base` changed as the case says (later keys win, as in JSON.parse). */
function bodyText (base: Record<string, unknown>, mutation: BodyCase): { body: string | Buffer, type?: string } {
  if (mutation.kind === 'strange') return { body: mutation.body, type: mutation.type }
  const entries = Object.entries(base).filter(([key]) => !mutation.drop.includes(key))
    .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`)
  for (const [key, text] of mutation.set) entries.push(`${JSON.stringify(key)}:${text}`)
  return { body: `{${entries.join(',')}}` }
}

/** encodeURIComponent, which throws on a lone surrogate: that becomes the UTF-8 of one, invalid on purpose. */
const encode = (value: string) => value.split(/([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/)
  .map((part, i) => i % 2 === 1 ? '%ED%A0%80' : encodeURIComponent(part)).join('')

/** How a generated string goes into a URL: encoded, raw where HTTP allows, or with broken %-escapes. */
const encoder = fc.constantFrom<(value: string) => string>(
  encode,
// Printable ASCII as is (`..`, `%`, `&`, `=`, `#`, quotes), the rest encoded: Node refuses them in a path.
(value) => [...value].map((c) => /^[\x21-\x7e]$/.test(c) ? c : encode(c)).join(''),
(value) => `${encode(value)}%`,
(value) => `%zz${encode(value)}`,
(value) => `${encode(value)}%C0%AF%00%FF`
)
const queryValue = fc.oneof(
  nastyString,
  fc.constantFrom('0', '1', '50', '100', '101', '-1', '1.5', '1e2', '0x10', ' 5', '5 ', '+5', '٣', '99999999999999999999',
    '9007199254740993', 'true', '[]', '{}', 'a=b', '&', '#'),
  hugeNumber.map(String)
)
const queryString = (keys: string[]) => fc.array(fc.tuple(keyFor(keys), queryValue, encoder), { minLength: 1, maxLength: 4 })
  .map((entries) => entries.map(([key, value, encodeWith]) => `${encodeWith(key)}=${encodeWith(value)}`).join('&'))

/** A path segment: generated and encoded, or one of these as is (dot segments, broken escapes, over every limit). */
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(nastyString, encoder).map(([value, encodeWith]) => encodeWith(value)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('.', '..', '%2e%2e', '%2F', '%00', '%', '%zz', '%ff', '%C0%AE',
      'a'.repeat(101), 'a'.repeat(201), 'a'.repeat(12_000), 'a'.repeat(20_000))
  }
)

// ---------------------------------------------------------------------------------------------------------------
// Row counts, before and after.

async function rowCounts () {
  const one = async (table: typeof users | typeof tokens | typeof rooms | typeof roomMembers | typeof messages) =>
    (await db.select({ n: count() }).from(table))[0]!.n
  return {
    users: await one(users),
    tokens: await one(tokens),
    rooms: await one(rooms),
    roomMembers: await one(roomMembers),
    messages: await one(messages)
  }
}

/** Heap in use after a full collection when one can be forced, else the resident set: before and after must agree. */
const forceGc: (() => void) | undefined = (() => {
  if (typeof globalThis.gc === 'function') return globalThis.gc
  try {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
})()
function memory (): number {
  if (forceGc === undefined) return process.memoryUsage().rss
  forceGc()
  forceGc()
  return process.memoryUsage().heapUsed
}

// ---------------------------------------------------------------------------------------------------------------
// The world the fuzz runs in.

const owner = await register(server.url)
const stranger = await register(server.url)
const listener = await register(server.url)
const candidate = await register(server.url)
const chatRoom = await createRoom(server.url, owner.token)
const patchRoom = await createRoom(server.url, owner.token)
const membersRoom = await createRoom(server.url, owner.token)
await join(server.url, listener.token, chatRoom.name)
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()
const countsBefore = await rowCounts()
const accepted = { register: 0, login: 0, createRoom: 0, addMember: 0 }
const started = Date.now()
// A warm server: the first requests compile schemas and fill caches that are not leaks.
for (let i = 0; i < 20; i++) await send('GET', '/api/chat/all-groups/?limit=x', { token: owner.token })
const memoryBefore = memory()
const connections = () => new Promise<number>((resolve, reject) =>
  server.app.server.getConnections((error, count) => error === null ? resolve(count) : reject(error)))
// The keep-alive connections of the setup's requests, and of the warm-up's agent.
const connectionsBefore = await connections()

t.test('bad bodies on every body route: 4xx in the API\'s shape, never a 5xx', async (t) => {
  const routes: Array<{
    name: keyof typeof accepted | 'patch',
    method: string,
    path: string,
    token?: string,
    fields: string[],
    base: () => Record<string, unknown>,
    numRuns: number
  }> = [
    {
      name: 'register',
      method: 'POST',
      path: '/api/auth/register/',
      fields: ['username', 'password', 'first_name', 'last_name', 'email'],
      base: () => ({ username: uniqueName('fz'), password: 'correct horse' }),
      numRuns: 150
    },
    {
      name: 'login',
      method: 'POST',
      path: '/api/auth/login/',
      fields: ['username', 'password'],
      base: () => ({ username: owner.user.username, password: 'not the password' }),
      numRuns: 100
    },
    {
      name: 'createRoom',
      method: 'POST',
      path: '/api/chat/groups/',
      token: owner.token,
      fields: ['name', 'description', 'room_avatar', 'is_private'],
      base: () => ({ name: uniqueName('fz') }),
      numRuns: 150
    },
    {
      name: 'patch',
      method: 'PATCH',
      path: `/api/chat/groups/${patchRoom.name}/`,
      token: owner.token,
      fields: ['description', 'room_avatar', 'is_private'],
      base: () => ({}),
      numRuns: 150
    },
    {
      name: 'addMember',
      method: 'POST',
      path: `/api/chat/groups/${membersRoom.name}/members/`,
      token: owner.token,
      fields: ['username'],
      base: () => ({ username: candidate.user.username }),
      numRuns: 120
    }
  ]
  // The routes in parallel, each property's runs one after another.
  await Promise.all(routes.map(async (route) => {
    await fc.assert(fc.asyncProperty(bodyCase(route.fields), async (mutation) => {
      const { body, type } = bodyText(route.base(), mutation)
      const answer = check(`${route.method} ${route.path} ${body.toString().slice(0, 200)}`,
        await send(route.method, route.path, { token: route.token, body, type }))
      if (answer.status < 300 && route.name !== 'patch') accepted[route.name]++
    }), runs(route.numRuns))
    t.pass(`${route.method} ${route.path}: ${runs(route.numRuns).numRuns} bodies`)
  }))
})

t.test('bad query strings: limit, cursor and search on both pages, last_seq on the socket', async (t) => {
  const pages = [
    { path: `/api/chat/groups/${chatRoom.name}/messages/`, keys: ['limit', 'cursor'] },
    { path: '/api/chat/all-groups/', keys: ['limit', 'cursor', 'search'] }
  ]
  await Promise.all([
    ...pages.map((page) => fc.assert(fc.asyncProperty(queryString(page.keys), async (query) => {
      check(`GET ${page.path}?${query}`, await send('GET', `${page.path}?${query}`, { token: owner.token }))
    }), runs(120))),
    fc.assert(fc.asyncProperty(queryString(['last_seq', 'token']), async (query) => {
      const path = `/ws/chat/${chatRoom.name}/?${query}`
      check(`upgrade ${path}`, await handshake(path, owner.token))
    }), runs(100))
  ])
  t.pass('every query string answered')
})

t.test('bad path segments: room names and usernames', async (t) => {
  const routes: Array<(segment: string) => [string, string, string]> = [
    (s) => ['GET', `/api/chat/groups/${s}/`, owner.token],
    (s) => ['GET', `/api/chat/groups/${s}/members/`, owner.token],
    (s) => ['GET', `/api/chat/groups/${s}/messages/?limit=1`, owner.token],
    (s) => ['PATCH', `/api/chat/groups/${s}/`, stranger.token],
    (s) => ['DELETE', `/api/chat/groups/${s}/`, stranger.token],
    (s) => ['DELETE', `/api/chat/groups/${chatRoom.name}/members/${s}/`, stranger.token],
    (s) => ['GET', `/api/chat/groups/${s}/members/${s}/`, owner.token]
  ]
  await Promise.all([
    fc.assert(fc.asyncProperty(segment, fc.nat(routes.length - 1), async (value, pick) => {
      const [method, path, token] = routes[pick]!(value)
      const body = method === 'PATCH' ? '{"description":"x"}' : undefined
      check(`${method} ${path.slice(0, 300)}`, await send(method, path, { token, body }))
    }), runs(200)),
    fc.assert(fc.asyncProperty(segment, async (value) => {
      const path = `/ws/chat/${value}/`
      check(`upgrade ${path.slice(0, 300)}`, await handshake(path, owner.token))
    }), runs(100))
  ])
  t.pass('every path answered')
})

// ---------------------------------------------------------------------------------------------------------------
// Socket frames. Each frame is followed by a sync frame the server refuses with its client_id echoed, so the
// answers between the two belong to the frame; a frame with no error answer was accepted.

const expectedMessages: string[] = []
const seenClientIds = new Set<string>()

/** What the server stores for an accepted frame, if anything: the trimmed message, once per client_id. */
function noteAccepted (text: string) {
  const frame = JSON.parse(text)
  if ((frame.type ?? 'message') !== 'message') return
  if (typeof frame.client_id === 'string') {
    if (seenClientIds.has(frame.client_id)) return
    seenClientIds.add(frame.client_id)
  }
  // What went over the wire: lone surrogates became U+FFFD in UTF-8.
  expectedMessages.push(Buffer.from(frame.message.trim()).toString())
}

let syncs = 0
async function exchange (socket: SocketClient, frame: string | Buffer): Promise<any[]> {
  const id = `sync-${++syncs}`
  const from = socket.frames.length
  socket.socket.send(frame, { binary: Buffer.isBuffer(frame) })
  socket.send({ message: ' ', client_id: id })
  const end = await socket.until((frames) => {
    const at = frames.findIndex((f, i) => i >= from && f.type === 'error' && f.client_id === id)
    return at === -1 ? undefined : at
  }, 10_000, `the answer to ${id}`)
  return socket.frames.slice(from, end).filter((f) => f.type === 'error')
}

const SOCKET_ERRORS = ['invalid_json', 'validation_error', 'throttled', 'unavailable']
function checkErrorFrame (what: string, frame: any) {
  const keys = Object.keys(frame).sort().join(',')
  if (!SOCKET_ERRORS.includes(frame.code) || typeof frame.detail !== 'string' ||
    !['code,detail,type', 'client_id,code,detail,type'].includes(keys)) {
    throw new Error(`${what}: malformed error frame ${JSON.stringify(frame)}`)
  }
}

const frameObject = fc.oneof(
  fc.record({ message: fc.oneof(nastyString, wrongType) }, { requiredKeys: [] }),
  fc.record({ type: fc.oneof(nastyString, wrongType, fc.constantFrom('message', 'typing', 'read', 'ping', 'pong', 'error', 'presence', 'MESSAGE')) }),
  fc.record({ type: fc.constant('read'), seq: fc.oneof(wrongType, hugeNumber, fc.constantFrom(-1, 1.5, 2 ** 53 + 2)) }),
  fc.record({
    message: fc.oneof(fc.constant('hello'), nastyString),
    message_type: fc.oneof(nastyString, wrongType, fc.constantFrom('text', 'image', 'file', 'system')),
    client_id: fc.oneof(nastyString, wrongType)
  }, { requiredKeys: ['message'] }),
  fc.dictionary(keyFor(['type', 'message', 'message_type', 'client_id', 'seq']), fc.oneof(nastyString, wrongType), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 4 })
)
const frameText = fc.oneof(
  { weight: 5, arbitrary: frameObject.map((value) => JSON.stringify(value) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{', '{"message":', '{"message":"x"', 'undefined', '\ufeff{"type":"ping"}',
      '{"type":"ping"}{"type":"ping"}', '{"message":"x","message":1}', '{"__proto__":{"type":"ping"}}',
      '{"type":"read","seq":1e999}', '{"type":"read","seq":123456789012345678901234567890}')
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.integer({ min: 1, max: 30_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
      fc.integer({ min: 1, max: 5000 }).map((depth) => '{"message":' + '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) + '}'),
      fc.integer({ min: 1, max: 5000 }).map((depth) => '{"type":"read","seq":' + '['.repeat(depth) + ']'.repeat(depth) + '}')
    )
  },
  { weight: 1, arbitrary: fc.integer({ min: 4001, max: 60_000 }).map((length) => JSON.stringify({ message: 'x'.repeat(length) })) }
)
const frame = fc.oneof(
  { weight: 6, arbitrary: frameText },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) }
)

t.test('bad socket frames: an error frame each, the socket stays open, only accepted frames are stored', async (t) => {
  const socket = await openSocket(server.wsUrl, chatRoom.name, { token: owner.token })
  t.teardown(() => socket.close())
  let refused = 0
  await fc.assert(fc.asyncProperty(frame, async (sent) => {
    const what = `frame ${sent.toString().slice(0, 200)}`
    const errors = await exchange(socket, sent)
    for (const error of errors) checkErrorFrame(what, error)
    if (errors.length > 1) throw new Error(`${what}: ${errors.length} error frames for one frame`)
    if (errors.length === 1) refused++
    else if (Buffer.isBuffer(sent)) throw new Error(`${what}: a binary frame was not refused`)
    else noteAccepted(sent)
  }), runs(600))
  t.equal(socket.closeCode, undefined, 'the socket is still open')
  t.ok(refused > runs(600).numRuns / 2, `most frames were refused (${refused})`)
})

t.test('text frames of invalid UTF-8 close the socket with 1007, nothing else', async (t) => {
  const invalidUtf8 = fc.tuple(fc.uint8Array({ maxLength: 50 }), fc.constantFrom(0xff, 0xfe, 0xc0, 0xc1, 0xf5), fc.uint8Array({ maxLength: 50 }))
    .map(([head, bad, tail]) => Buffer.concat([Buffer.from(head), Buffer.from([bad]), Buffer.from(tail)]))
  await fc.assert(fc.asyncProperty(invalidUtf8, async (bytes) => {
    const socket = await openSocket(server.wsUrl, chatRoom.name, { token: owner.token })
    socket.socket.send(bytes, { binary: false })
    const { code } = await socket.waitClose(10_000)
    if (code !== 1007) throw new Error(`closed with ${code}, not 1007`)
  }), runs(20))
  t.pass('every one closed with 1007')
})

t.test('floods: a thousand bad frames and pings in a burst get one answer each; a burst of sends is stored whole', async (t) => {
  const socket = await openSocket(server.wsUrl, chatRoom.name, { token: owner.token })
  t.teardown(() => socket.close())
  // Frames that are refused whatever they hold: binary, not JSON, unknown types, a message of the wrong type.
  const refusedFrame = fc.oneof(
    fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 50 }).map((text) => `{${text}`),
    fc.string({ maxLength: 20 }).map((type) => JSON.stringify({ type: `x-${type}` })),
    wrongType.map((message) => JSON.stringify({ message }))
  )
  const burst = fc.sample(refusedFrame, { numRuns: fuzzRuns > 0 ? fuzzRuns : 1000, seed: 42 })
  let pings = 0
  for (const [i, sent] of burst.entries()) {
    socket.socket.send(sent, { binary: Buffer.isBuffer(sent) })
    if (i % 10 === 0) { socket.send({ type: 'ping' }); pings++ }
  }
  await exchange(socket, '{"type":"ping"}')
  const errors = socket.frames.filter((f) => f.type === 'error' && !String(f.client_id).startsWith('sync-'))
  t.equal(errors.length, burst.length, 'one error frame per refused frame')
  t.equal(socket.frames.filter((f) => f.type === 'pong').length, pings + 1, 'one pong per ping')
  t.equal(socket.closeCode, undefined, 'still open')

  const texts = Array.from({ length: 300 }, (_, i) => `burst ${i} ${uniqueName()}`)
  for (const text of texts) socket.send({ message: text })
  expectedMessages.push(...texts)
  const echoed = await socket.until((frames) => {
    const mine = frames.filter((f) => f.type === 'message' && f.message.startsWith('burst '))
    return mine.length >= texts.length ? mine : undefined
  }, 30_000, 'the burst echoed')
  t.same(echoed.map((f) => f.message), texts, 'every send of the burst came back, in order')
})

t.test('afterwards: no 5xx, the server answers, only accepted input left rows, memory is back near its start', async (t) => {
  t.ok(answers.length >= 1000, `${answers.length} HTTP answers checked`)
  t.same(answers.filter(({ status }) => status >= 500), [], 'no 5xx')
  const health = await send('GET', '/healthz')
  t.equal(health.status, 200, '/healthz answers')
  const me = await send('GET', '/api/auth/me/', { token: owner.token })
  t.equal(me.body?.username, owner.user.username, 'a REST call still works')

  // A valid send on a new socket reaches another member's socket.
  const observer = await openSocket(server.wsUrl, chatRoom.name, { token: listener.token })
  const sender = await openSocket(server.wsUrl, chatRoom.name, { token: owner.token })
  const marker = uniqueName('still alive')
  sender.send({ message: marker })
  expectedMessages.push(marker)
  const last = await observer.next((f) => f.type === 'message' && f.message === marker, 0, 10_000)
  t.equal(last.sender.username, owner.user.username, 'a valid send is broadcast')
  observer.close()
  sender.close()

  // Rows: only what the server accepted. The marker is the room's last message, so every accepted one is committed.
  const stored = await db.select({ message: messages.message, seq: messages.seq }).from(messages)
    .where(eq(messages.roomId, chatRoom.id)).orderBy(asc(messages.seq))
  t.equal(stored.length, last.seq, 'seqs 1..last, no gap')
  t.same(stored.map((row) => row.message), expectedMessages, 'the room holds exactly the accepted messages, in order')
  const after = await rowCounts()
  t.same({
    users: after.users - countsBefore.users,
    tokens: after.tokens - countsBefore.tokens,
    rooms: after.rooms - countsBefore.rooms,
    roomMembers: after.roomMembers - countsBefore.roomMembers,
    messages: after.messages - countsBefore.messages
  }, {
    users: accepted.register,
    tokens: accepted.register + accepted.login,
    rooms: accepted.createRoom,
    roomMembers: accepted.createRoom + accepted.addMember,
    messages: expectedMessages.length
  }, `new rows only for accepted input (${JSON.stringify(accepted)})`)
  const staff = await db.select({ n: count() }).from(users).where(eq(users.isStaff, true))
  t.equal(staff[0]!.n, 0, 'nobody became staff')
  const ownerMember = await db.select({ role: roomMembers.role }).from(roomMembers)
    .where(and(eq(roomMembers.roomId, patchRoom.id), eq(roomMembers.userId, owner.user.id)))
  t.same(ownerMember, [{ role: 'owner' }], 'the patched room still has its owner')
  t.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype is untouched')
  t.equal(({} as Record<string, unknown>).isStaff, undefined, 'no polluted property')

  // Every socket is gone, and no refused upgrade left its connection open (Node's server would never close it).
  agent.destroy()
  await waitUntil('the hub to drop closed sockets', async () => server.app.chatHub.size === 0, 10_000)
  await waitUntil('refused upgrades to be closed', async () => await connections() <= connectionsBefore, 10_000)
  t.ok(await connections() <= connectionsBefore, 'no connection left open')
  const growth = memory() - memoryBefore
  const bound = forceGc === undefined ? 256 * 2 ** 20 : 64 * 2 ** 20
  t.ok(growth < bound, `memory grew by ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${bound / 2 ** 20} MiB, ${forceGc === undefined ? 'rss' : 'heap after GC'})`)
  t.comment(`fuzzing took ${((Date.now() - started) / 1000).toFixed(1)} s`)
})

t.teardown(() => agent.destroy())
