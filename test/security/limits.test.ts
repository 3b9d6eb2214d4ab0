import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { count, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { messages, rooms, users } from '../../src/db/schema/index.js'
import { join as joinPath } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { rootDir } from '../../src/paths.js'
import { isError } from '../helpers/assertions.js'
import { api, createRoom, join, openSocket, refusal, register, uniqueName, type ApiResponse } from '../helpers/client.js'
import { redisPrefix, sharedDatabase, spawnInstance, startRedis, waitUntil } from '../helpers/cluster.js'
import { startServer } from '../helpers/server.js'

// Every limit of the README's configuration table, set small by environment variable and seen to hold.
// Rate limits count per client IP: behind a trusted proxy the IP comes from X-Forwarded-For, so each test
// speaks from addresses of its own.
const RATE_LIMITS = {
  TRUST_PROXY: 'true',
  RATE_LIMIT_AUTH_PER_IP: '3',
  RATE_LIMIT_LOGIN_PER_USERNAME: '2',
  RATE_LIMIT_AUTH_FAILURES_PER_IP: '3',
  RATE_LIMIT_REST_PER_TOKEN: '5'
}
const SOCKET_LIMITS = {
  // One send every 5 s refills the bucket: a burst sent at once cannot be helped by a refill, however slow the machine.
  MESSAGE_RATE_PER_SECOND: '0.2',
  MESSAGE_BURST: '3',
  MAX_SOCKETS_PER_USER: '2',
  BODY_LIMIT: '2048'
}
const rated = await startServer(t, RATE_LIMITS)
const limited = await startServer(t, SOCKET_LIMITS)

const address = () => `10.${randomBytes(3).join('.')}`
const from = (ip: string) => ({ 'x-forwarded-for': ip })
const password = 'correct horse'

async function signUp (base: string, ip: string, username = uniqueName('lim')): Promise<ApiResponse> {
  return await api(base, 'POST', '/api/auth/register/', { body: { username, password }, headers: from(ip) })
}
async function logIn (base: string, ip: string, username: string, secret = password): Promise<ApiResponse> {
  return await api(base, 'POST', '/api/auth/login/', { body: { username, password: secret }, headers: from(ip) })
}

/** 429 `throttled` in the API's shape, with a Retry-After of a whole number of seconds within the minute. */
function isThrottled (t: Test, response: ApiResponse, what: string) {
  isError(t, response, 429, 'throttled', what)
  const retryAfter = Number(response.headers.get('retry-after'))
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
    `${what}: Retry-After ${response.headers.get('retry-after')} (1..60 s)`)
}

/** A refused handshake, with its headers. */
function handshakeRefusal (wsUrl: string, room: string, token: string) {
  return new Promise<{ status: number, body: any, retryAfter: string | undefined }>((resolve, reject) => {
    const socket = new WebSocket(`${wsUrl}/ws/chat/${room}/?token=${token}`, { handshakeTimeout: 5000 })
    socket.once('open', () => { socket.close(); reject(new Error('the handshake was accepted')) })
    socket.once('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => {
        const retryAfter = response.headers['retry-after']
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter })
      })
    })
    socket.once('error', reject)
  })
}

t.test('the README lists every limit, with the default the server applies', async (t) => {
  const readme = readFileSync(joinPath(rootDir, 'README.md'), 'utf8')
  const defaults = loadConfig({}) as Record<string, unknown>
  const limits = ['BODY_LIMIT', 'RATE_LIMIT_AUTH_PER_IP', 'RATE_LIMIT_LOGIN_PER_USERNAME', 'RATE_LIMIT_AUTH_FAILURES_PER_IP',
    'RATE_LIMIT_REST_PER_TOKEN', 'MESSAGE_RATE_PER_SECOND', 'MESSAGE_BURST', 'MAX_SOCKETS_PER_USER']
  for (const name of limits) {
    // A row names one or two variables (`A` / `B`) and their defaults in the same order.
    const row = readme.split('\n').find((line) => line.startsWith('| `') && line.includes(`\`${name}\``))
    t.ok(row !== undefined, `${name} has a row in the configuration table`)
    const [, names = '', values = ''] = row?.split('|') ?? []
    const index = names.split('/').findIndex((part) => part.includes(`\`${name}\``))
    t.equal(values.split('/')[index]?.trim(), `\`${defaults[name]}\``, `${name}: the README's default is the server's`)
  }
  t.equal(rated.config.RATE_LIMIT_REST_PER_TOKEN, 5, 'set by environment variable')
  t.equal(limited.config.BODY_LIMIT, 2048, 'set by environment variable')
})

t.test('register and login share a per-IP limit: the 4th from one IP is 429 with Retry-After; other IPs go on', async (t) => {
  const ip = address()
  const first = await signUp(rated.url, ip)
  t.equal(first.status, 201, '1st: register')
  t.equal((await signUp(rated.url, ip)).status, 201, '2nd: register')
  t.equal((await logIn(rated.url, ip, first.body.user.username)).status, 200, '3rd: login')
  const refused = uniqueName('lim')
  isThrottled(t, await signUp(rated.url, ip, refused), '4th: register')
  isThrottled(t, await logIn(rated.url, ip, first.body.user.username), '5th: login')
  const [stored] = await rated.app.database.orm.select({ n: count() }).from(users).where(eq(users.username, refused))
  t.equal(stored!.n, 0, 'the throttled registration stored no user')
  t.equal((await signUp(rated.url, address())).status, 201, 'another IP still registers')
})

t.test('login per username: after 2 failures from any IPs, those IPs are refused, even with the right password; others go on', async (t) => {
  const account = (await signUp(rated.url, address())).body
  const name: string = account.user.username
  const [first, second] = [address(), address()]
  t.equal((await logIn(rated.url, first, name, 'wrong password')).status, 401, '1st failure')
  t.equal((await logIn(rated.url, second, name, 'wrong password')).status, 401, '2nd failure, another IP')
  isThrottled(t, await logIn(rated.url, first, name), 'right password from the 1st IP')
  isThrottled(t, await logIn(rated.url, second, name.toUpperCase()), 'the same name in capitals from the 2nd')
  t.equal((await logIn(rated.url, address(), name)).status, 200, 'the right password from a third IP')
  const other = (await signUp(rated.url, address())).body
  t.equal((await logIn(rated.url, address(), other.user.username)).status, 200, 'another username logs in')
})

t.test('REST per token: 5 requests, then 429 with Retry-After, socket handshakes included; another token goes on', async (t) => {
  const account = (await signUp(rated.url, address())).body
  const room = await createRoom(rated.url, account.token)
  for (let i = 2; i <= 5; i++) {
    t.equal((await api(rated.url, 'GET', '/api/auth/me/', { token: account.token })).status, 200, `request ${i}`)
  }
  isThrottled(t, await api(rated.url, 'GET', '/api/chat/groups/', { token: account.token }), 'request 6')
  const handshake = await refusal(openSocket(rated.wsUrl, room.name, { token: account.token }))
  t.equal(handshake.status, 429, 'the socket handshake counts too')
  t.equal(handshake.body.code, 'throttled')
  const again = await logIn(rated.url, address(), account.user.username)
  t.equal((await api(rated.url, 'GET', '/api/auth/me/', { token: again.body.token })).status, 200,
    'another token of the same user is counted apart')
})

/** A new user in a new room on the socket-limits server. */
async function member () {
  const account = await register(limited.url)
  const room = await createRoom(limited.url, account.token)
  return { account, room }
}
const historyCount = async (roomId: number) =>
  (await limited.app.database.orm.select({ n: count() }).from(messages).where(eq(messages.roomId, roomId)))[0]!.n

t.test('socket sends: a burst of 3, then a throttled error frame, nothing stored, the socket open', async (t) => {
  const { account, room } = await member()
  const socket = await openSocket(limited.wsUrl, room.name, { token: account.token })
  t.teardown(() => socket.close())
  for (let i = 1; i <= 5; i++) socket.send({ message: `m${i}`, client_id: `m${i}` })
  const refused = await socket.until((frames) => {
    const errors = frames.filter((f) => f.type === 'error')
    return errors.length >= 2 ? errors : undefined
  }, 5000, 'two refusals')
  t.same(refused.map((f) => [f.code, f.client_id]), [['throttled', 'm4'], ['throttled', 'm5']], 'the 4th and 5th are throttled')
  t.match(refused[0].detail, /retry in 5 s/i, 'the refusal says when to retry')
  const stored = await socket.messageCount(3)
  t.same(stored.map((f) => f.client_id), ['m1', 'm2', 'm3'], 'the first 3 are stored')
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong')
  t.equal(socket.closeCode, undefined, 'the socket stays open')
  t.equal(await historyCount(room.id), 3, 'history holds 3 messages')

  // The bucket is per user and per room: another member here, and the same user elsewhere, are not throttled.
  const other = await register(limited.url)
  await join(limited.url, other.token, room.name)
  const otherSocket = await openSocket(limited.wsUrl, room.name, { token: other.token })
  t.teardown(() => otherSocket.close())
  otherSocket.send({ message: 'from another member' })
  t.equal((await otherSocket.next((f) => f.type === 'message' || f.type === 'error')).type, 'message', 'another member sends')
  const elsewhere = await createRoom(limited.url, account.token)
  socket.close()
  await socket.waitClose()
  const there = await openSocket(limited.wsUrl, elsewhere.name, { token: account.token })
  t.teardown(() => there.close())
  there.send({ message: 'in another room' })
  t.equal((await there.next((f) => f.type === 'message' || f.type === 'error')).type, 'message', 'the same user in another room sends')
  t.equal(await historyCount(room.id), 4, 'nothing more was stored in the first room')
})

t.test('sockets per user: a 3rd concurrent socket gets 429 with the JSON error; after one closes, a new one opens', async (t) => {
  const { account, room } = await member()
  const second = await createRoom(limited.url, account.token)
  const one = await openSocket(limited.wsUrl, room.name, { token: account.token })
  const two = await openSocket(limited.wsUrl, second.name, { token: account.token })
  t.teardown(() => { one.close(); two.close() })
  const refused = await handshakeRefusal(limited.wsUrl, room.name, account.token)
  t.equal(refused.status, 429, '429 before the upgrade')
  t.same(Object.keys(refused.body).sort(), ['code', 'detail'], 'the API\'s error body')
  t.equal(refused.body.code, 'throttled')
  t.match(refused.body.detail, /2/, 'the detail names the limit')
  t.equal(refused.retryAfter, '50', 'Retry-After: two heartbeat intervals, when dead sockets are surely gone')

  const other = await register(limited.url)
  await join(limited.url, other.token, room.name)
  const others = await openSocket(limited.wsUrl, room.name, { token: other.token })
  t.teardown(() => others.close())
  t.equal(others.closeCode, undefined, 'another user still connects')

  one.close()
  await one.waitClose()
  await waitUntil('the server to count the closed socket', async () => limited.app.chatHub.socketsOf(account.user.id) < 2, 5000)
  const three = await openSocket(limited.wsUrl, room.name, { token: account.token })
  t.teardown(() => three.close())
  three.send({ type: 'ping' })
  await three.next((f) => f.type === 'pong')
  t.pass('a socket opens again once one has closed')
})

t.test('BODY_LIMIT: a body of 2048 bytes is read, one of 2049 is 413 and stores nothing', async (t) => {
  const { account } = await member()
  const sized = (name: string, bytes: number) => {
    const json = JSON.stringify({ name, description: 'x'.repeat(1000) })
    return json + ' '.repeat(bytes - Buffer.byteLength(json))
  }
  const over = uniqueName('big')
  const refused = await api(limited.url, 'POST', '/api/chat/groups/', { token: account.token, raw: sized(over, 2049) })
  isError(t, refused, 413, 'payload_too_large', '2049 bytes')
  const [stored] = await limited.app.database.orm.select({ n: count() }).from(rooms).where(eq(rooms.name, over))
  t.equal(stored!.n, 0, 'no room stored')
  const fits = await api(limited.url, 'POST', '/api/chat/groups/', { token: account.token, raw: sized(uniqueName('big'), 2048) })
  t.equal(fits.status, 201, '2048 bytes: created')
})

t.test('frames: 64 KiB is read, 64 KiB + 1 closes with 1009; messages of 4000 characters are stored, 4001 refused', async (t) => {
  const { account, room } = await member()
  const socket = await openSocket(limited.wsUrl, room.name, { token: account.token })
  t.teardown(() => socket.close())
  socket.send(`{"message":"${'é'.repeat(4000)}","client_id":"longest"}`)
  const [stored] = await socket.messageCount(1)
  t.equal([...stored.message].length, 4000, '4000 characters are stored')
  socket.send({ message: `${'é'.repeat(4001)}`, client_id: 'too long' })
  const tooLong = await socket.next((f) => f.type === 'error')
  t.match(tooLong, { code: 'validation_error', client_id: 'too long' }, '4001 characters are refused')
  t.equal(await historyCount(room.id), 1, 'only the 4000-character message is stored')

  const frame = (bytes: number) => {
    const head = '{"message":"'
    return head + 'x'.repeat(bytes - head.length - 2) + '"}'
  }
  const from = socket.frames.length
  socket.send(frame(64 * 1024))
  t.match(await socket.next((f) => f.type === 'error', from), { code: 'validation_error' }, '64 KiB: read (and refused as too long)')
  socket.send(frame(64 * 1024 + 1))
  t.equal((await socket.waitClose()).code, 1009, '64 KiB + 1: closed with 1009')
})

t.test('with Redis, two instances on one database count REST limits together', async (t) => {
  const database = await sharedDatabase(t)
  const redis = await startRedis(t)
  const env = { ...RATE_LIMITS, DATABASE_URL: database, REDIS_URL: redis.url, REDIS_PREFIX: redisPrefix() }
  const [a, b] = await Promise.all([spawnInstance(t, env), spawnInstance(t, env)])

  await t.test('per token: 5 requests split over both, then both answer 429', async (t) => {
    const account = (await signUp(a!.url, address())).body
    for (const [i, instance] of [a, b, a, b, a].entries()) {
      t.equal((await api(instance!.url, 'GET', '/api/auth/me/', { token: account.token })).status, 200, `request ${i + 1}`)
    }
    isThrottled(t, await api(b!.url, 'GET', '/api/auth/me/', { token: account.token }), 'request 6, on B')
    isThrottled(t, await api(a!.url, 'GET', '/api/auth/me/', { token: account.token }), 'request 7, on A')
  })

  await t.test('per IP: register and login split over both, the 4th is 429', async (t) => {
    const ip = address()
    const first = await signUp(a!.url, ip)
    t.equal(first.status, 201, '1st on A')
    t.equal((await signUp(b!.url, ip)).status, 201, '2nd on B')
    t.equal((await logIn(a!.url, ip, first.body.user.username)).status, 200, '3rd on A')
    isThrottled(t, await signUp(b!.url, ip), '4th on B')
  })

  await t.test('per username: two failures over both, then the failing IP is 429 on either', async (t) => {
    const account = (await signUp(b!.url, address())).body
    const ip = address()
    t.equal((await logIn(a!.url, ip, account.user.username, 'wrong password')).status, 401, '1st on A')
    t.equal((await logIn(b!.url, address(), account.user.username, 'wrong password')).status, 401, '2nd on B')
    isThrottled(t, await logIn(b!.url, ip, account.user.username), 'the 1st IP, on B')
  })

  await t.test('refused tokens per IP: counted over both', async (t) => {
    const ip = address()
    const unknown = randomBytes(20).toString('hex')
    for (const [i, instance] of [a, b, a].entries()) {
      const response = await api(instance!.url, 'GET', '/api/auth/me/', { token: unknown, headers: from(ip) })
      t.equal(response.status, 401, `unknown token ${i + 1}`)
    }
    isThrottled(t, await api(b!.url, 'GET', '/api/auth/me/', { token: unknown, headers: from(ip) }), '4th, on B')
  })
})
