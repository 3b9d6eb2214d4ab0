import { randomBytes } from 'node:crypto'
import { count, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { users } from '../../src/db/schema/index.js'
import { isError } from '../helpers/assertions.js'
import { api, createRoom, openSocket, refusal, uniqueName, type ApiResponse } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

// Account abuse: locking an owner out, guessing tokens, guessable passwords. Limits count per client IP: behind a
// trusted proxy the IP comes from X-Forwarded-For, so each test speaks from addresses of its own.
const server = await startServer(t, {
  TRUST_PROXY: 'true',
  RATE_LIMIT_LOGIN_PER_USERNAME: '2',
  RATE_LIMIT_AUTH_FAILURES_PER_IP: '3'
})

const address = () => `10.${randomBytes(3).join('.')}`
const from = (ip: string) => ({ 'x-forwarded-for': ip })
const password = 'correct horse'

async function signUp (username = uniqueName('acct'), secret = password): Promise<ApiResponse> {
  return await api(server.url, 'POST', '/api/auth/register/', { body: { username, password: secret }, headers: from(address()) })
}
async function logIn (ip: string, username: string, secret = password): Promise<ApiResponse> {
  return await api(server.url, 'POST', '/api/auth/login/', { body: { username, password: secret }, headers: from(ip) })
}
const me = (ip: string, token: string) => api(server.url, 'GET', '/api/auth/me/', { token, headers: from(ip) })

/** 429 `throttled` in the API's shape, with a Retry-After of a whole number of seconds within the minute. */
function isThrottled (t: Test, response: ApiResponse, what: string) {
  isError(t, response, 429, 'throttled', what)
  const retryAfter = Number(response.headers.get('retry-after'))
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
    `${what}: Retry-After ${response.headers.get('retry-after')} (1..60 s)`)
}

t.test('failing logins on purpose does not lock the owner out; the guessing address is refused', async (t) => {
  const name: string = (await signUp()).body.user.username
  const attacker = address()
  for (let i = 1; i <= 2; i++) isError(t, await logIn(attacker, name, `wrong guess ${i}`), 401, 'authentication_failed', `guess ${i}`)
  isThrottled(t, await logIn(attacker, name, 'wrong guess 3'), 'guess 3 from the same address')
  isThrottled(t, await logIn(attacker, name), 'the guessing address, even with the right password')
  isThrottled(t, await logIn(attacker, name.toUpperCase()), 'the same name in capitals')
  const owner = await logIn(address(), name)
  t.equal(owner.status, 200, 'the owner, from an address of their own, logs in')
  t.equal((await me(address(), owner.body.token)).status, 200, 'with a token that works')

  const another = address()
  isError(t, await logIn(another, name, 'one more guess'), 401, 'authentication_failed', 'a fresh address is still heard')
  isThrottled(t, await logIn(another, name), 'and, once it guessed wrong, refused too')
})

t.test('concurrent guesses from one address cannot all slip in before the first is counted', async (t) => {
  const name: string = (await signUp()).body.user.username
  const ip = address()
  const guesses = await Promise.all(Array.from({ length: 10 }, (_, i) => logIn(ip, name, `wrong guess ${i}`)))
  const statuses = guesses.map((r) => r.status).sort()
  t.same(statuses, [401, 401, ...Array(8).fill(429)], 'two are heard, eight refused')
  t.equal((await logIn(address(), name)).status, 200, 'the owner, elsewhere, logs in')
})

t.test('below the per-username limit, a wrong password is no reason to refuse the right one', async (t) => {
  const name: string = (await signUp()).body.user.username
  const ip = address()
  isError(t, await logIn(ip, name, 'typo in it'), 401, 'authentication_failed')
  t.equal((await logIn(ip, name)).status, 200, 'the right password next, from the same address')
})

t.test('guessing from ten times as many addresses as the limit refuses every address for the minute', async (t) => {
  const name: string = (await signUp()).body.user.username
  const guesses = await Promise.all(Array.from({ length: 20 }, (_, i) => logIn(address(), name, `wrong guess ${i}`)))
  t.same(guesses.map((r) => r.status), Array(20).fill(401), '20 guesses from 20 addresses are each heard')
  isThrottled(t, await logIn(address(), name), 'then even the right password from a new address')
})

t.test('a successful login is not a failure: logging in again and again is not refused', async (t) => {
  const name: string = (await signUp()).body.user.username
  const ip = address()
  for (let i = 1; i <= 4; i++) t.equal((await logIn(ip, name)).status, 200, `login ${i}`)
})

t.test('refused tokens: 3 per address, then 429 with Retry-After before any lookup; other addresses go on', async (t) => {
  const account = (await signUp()).body
  const ip = address()
  const unknown = randomBytes(20).toString('hex')
  isError(t, await me(ip, unknown), 401, 'authentication_failed', 'unknown token 1')
  isError(t, await me(ip, 'not-even-hex'), 401, 'authentication_failed', 'malformed token 2')
  isError(t, await api(server.url, 'GET', '/api/chat/groups/', { token: unknown, headers: from(ip) }), 401,
    'authentication_failed', 'unknown token 3, another route')
  isThrottled(t, await me(ip, unknown), 'unknown token 4')
  isThrottled(t, await me(ip, account.token), 'a valid token from that address too, for the rest of the minute')
  t.equal((await me(address(), account.token)).status, 200, 'the valid token from another address')
  isError(t, await me(address(), unknown), 401, 'authentication_failed', 'an unknown token from another address')
})

t.test('no credentials at all is not a refused token', async (t) => {
  const ip = address()
  for (let i = 1; i <= 4; i++) {
    isError(t, await api(server.url, 'GET', '/api/auth/me/', { headers: from(ip) }), 401, 'not_authenticated', `request ${i}`)
  }
})

t.test('refused tokens on the socket handshake count too, and the refusal is an HTTP 429 before any upgrade', async (t) => {
  const account = (await signUp()).body
  const room = await createRoom(server.url, account.token)
  const ip = address()
  const unknown = randomBytes(20).toString('hex')
  for (let i = 1; i <= 3; i++) {
    const refused = await refusal(openSocket(server.wsUrl, room.name, { token: unknown, headers: from(ip) }))
    t.equal(refused.status, 401, `handshake ${i}: 401`)
    t.equal(refused.body.code, 'authentication_failed')
  }
  const throttled = await refusal(openSocket(server.wsUrl, room.name, { token: account.token, headers: from(ip) }))
  t.equal(throttled.status, 429, 'handshake 4, with a valid token: 429')
  t.same(Object.keys(throttled.body).sort(), ['code', 'detail'], 'the error shape')
  t.equal(throttled.body.code, 'throttled')
  isThrottled(t, await me(ip, account.token), 'REST from the same address')
  const socket = await openSocket(server.wsUrl, room.name, { token: account.token, headers: from(address()) })
  t.teardown(() => socket.close())
  t.pass('another address opens the socket')
})

const storedUsers = async (username: string) =>
  (await server.app.database.orm.select({ n: count() }).from(users).where(eq(users.username, username)))[0]!.n

t.test('register refuses guessable passwords with 400 validation_error on /password, and stores nothing', async (t) => {
  const name = () => uniqueName('weak')
  const cases: Array<[string, (username: string) => string]> = [
    ['only spaces', () => ' '.repeat(8)],
    ['only whitespace of several kinds', () => ' \t\n \u00a0\u3000  '],
    ['only invisible characters', () => '\u200b\u200c\u200d\u2060\ufeff\u200b\u200b\u200b'],
    ['a common one with zero-width spaces in it', () => 'pass\u200bword\u200b'],
    ['password', () => 'password'],
    ['12345678', () => '12345678'],
    ['the most common in capitals', () => 'PassWord1'],
    ['a common one padded with spaces', () => '  iloveyou  '],
    ['one letter repeated', () => 'xxxxxxxx'],
    ['the username', (username) => username],
    ['the username in capitals', (username) => username.toUpperCase()],
    ['the username with a few characters added', (username) => `${username}2024!`],
    ['the username twice', (username) => `${username}${username}`]
  ]
  for (const [what, make] of cases) {
    const username = name()
    const response = await api(server.url, 'POST', '/api/auth/register/', {
      body: { username, password: make(username) }, headers: from(address())
    })
    isError(t, response, 400, 'validation_error', what)
    t.same(response.body.errors?.map((e: { field: string }) => e.field), ['/password'], `${what}: the field is /password`)
    t.equal(await storedUsers(username), 0, `${what}: no user stored`)
  }
})

t.test('register accepts passwords that are long enough and not guessable, the username inside one included', async (t) => {
  for (const make of [() => password, (username: string) => `${username} likes green tea`, () => ' padded but fine ']) {
    const username = uniqueName('strong')
    const secret = make(username)
    const response = await signUp(username, secret)
    t.equal(response.status, 201, `${JSON.stringify(secret.replace(username, '<username>'))} accepted`)
    t.equal((await logIn(address(), username, secret)).status, 200, 'and logs in')
  }
})
