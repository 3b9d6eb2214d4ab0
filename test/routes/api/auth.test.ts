import t from 'tap'
import { api, register, uniqueName, type ApiResponse } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError } from '../../helpers/assertions.js'
import { loadConfig } from '../../../src/config.js'

// One server for the file: every subtest uses its own usernames.
const server = await startServer(t)

const TOKEN_PATTERN = /^[0-9a-f]{40}$/
const USER_KEYS = ['first_name', 'id', 'last_name', 'username']

/** The fields named by a validation error. */
const fields = (response: ApiResponse): string[] => (response.body?.errors ?? []).map((e: { field: string }) => e.field)

const me = (token: string, headers: Record<string, string> = {}) =>
  api(server.url, 'GET', '/api/auth/me/', { headers: { authorization: `Token ${token}`, ...headers } })

const login = (username: unknown, password: unknown) =>
  api(server.url, 'POST', '/api/auth/login/', { body: { username, password } })

t.test('register answers 201 with a 40-hex token and the User', async (t) => {
  const username = uniqueName('reg')
  const response = await api(server.url, 'POST', '/api/auth/register/', {
    body: { username, password: 'correct horse', first_name: 'Anagh', last_name: 'Singh', email: 'anagh@example.com' }
  })
  t.equal(response.status, 201)
  t.same(Object.keys(response.body).sort(), ['token', 'user'])
  t.match(response.body.token, TOKEN_PATTERN)
  t.same(Object.keys(response.body.user).sort(), USER_KEYS, 'user has exactly the User fields')
  t.type(response.body.user.id, 'number')
  t.equal(response.body.user.username, username)
  t.equal(response.body.user.first_name, 'Anagh')
  t.equal(response.body.user.last_name, 'Singh')

  const self = await me(response.body.token)
  t.equal(self.status, 200, 'the new token works at once')
  t.same(self.body, response.body.user)
})

t.test('register without names gives empty first and last names', async (t) => {
  const account = await register(server.url)
  t.equal(account.user.first_name, '')
  t.equal(account.user.last_name, '')
})

t.test('register answers 409 conflict for a taken username and keeps the first password', async (t) => {
  const account = await register(server.url, uniqueName('taken'), 'first password')
  const again = await api(server.url, 'POST', '/api/auth/register/', {
    body: { username: account.user.username, password: 'second password' }
  })
  isError(t, again, 409, 'conflict')
  t.equal((await login(account.user.username, 'first password')).status, 200, 'first password still logs in')
  isError(t, await login(account.user.username, 'second password'), 401, 'authentication_failed')
})

t.test('register accepts the boundary lengths and every allowed username character', async (t) => {
  const hex = uniqueName('').slice(1)
  for (const username of [`ab${hex}`.slice(0, 3), `Az09@.+-_${hex}`, `L${hex}`.padEnd(150, 'x')]) {
    const response = await api(server.url, 'POST', '/api/auth/register/', {
      body: { username, password: 'tuvwxyz8' }
    })
    // A 3-character name cannot be unique per run; a 409 from an earlier run still proves it passed validation.
    if (username.length === 3) t.ok([201, 409].includes(response.status), `3 characters accepted (${response.status})`)
    else t.equal(response.status, 201, `username ${username.slice(0, 20)}… (${username.length}) accepted`)
  }
  const longPassword = await api(server.url, 'POST', '/api/auth/register/', {
    body: { username: uniqueName('pw'), password: 'p'.repeat(128) }
  })
  t.equal(longPassword.status, 201, '128-character password accepted')
})

t.test('register rejects bad input with 400 validation_error naming each bad field', async (t) => {
  const password = 'correct horse'
  const cases: Array<{ name: string, body: unknown, fields: string[] }> = [
    { name: 'username too short', body: { username: 'ab', password }, fields: ['/username'] },
    { name: 'username too long', body: { username: 'u'.repeat(151), password }, fields: ['/username'] },
    { name: 'username with a space', body: { username: 'bad name', password }, fields: ['/username'] },
    { name: 'username with a slash', body: { username: 'bad/name', password }, fields: ['/username'] },
    { name: 'username with non-ASCII letters', body: { username: 'имя_user', password }, fields: ['/username'] },
    { name: 'password too short', body: { username: uniqueName(), password: 'x'.repeat(7) }, fields: ['/password'] },
    { name: 'password too long', body: { username: uniqueName(), password: 'x'.repeat(129) }, fields: ['/password'] },
    { name: 'username missing', body: { password }, fields: ['/username'] },
    { name: 'password missing', body: { username: uniqueName() }, fields: ['/password'] },
    { name: 'both missing', body: {}, fields: ['/password', '/username'] },
    { name: 'username and password both bad', body: { username: 'a', password: 'b' }, fields: ['/password', '/username'] },
    { name: 'username a number', body: { username: 12345, password }, fields: ['/username'] },
    { name: 'password a boolean', body: { username: uniqueName(), password: true }, fields: ['/password'] },
    { name: 'first_name a number', body: { username: uniqueName(), password, first_name: 7 }, fields: ['/first_name'] },
    { name: 'last_name null', body: { username: uniqueName(), password, last_name: null }, fields: ['/last_name'] },
    { name: 'first_name too long', body: { username: uniqueName(), password, first_name: 'f'.repeat(151) }, fields: ['/first_name'] },
    { name: 'unknown field is_staff', body: { username: uniqueName(), password, is_staff: true }, fields: ['/is_staff'] },
    { name: 'unknown field', body: { username: uniqueName(), password, nickname: 'x' }, fields: ['/nickname'] },
    { name: 'bad email', body: { username: uniqueName(), password, email: 'not-an-email' }, fields: ['/email'] },
    { name: 'email with a space', body: { username: uniqueName(), password, email: 'a b@example.com' }, fields: ['/email'] }
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const response = await api(server.url, 'POST', '/api/auth/register/', { body: c.body })
      isError(t, response, 400, 'validation_error')
      t.same([...new Set(fields(response))].sort(), c.fields, 'errors[] names exactly the bad fields')
      for (const item of response.body.errors ?? []) t.ok(item.message.length > 0, 'each error has a message')
    })
  }
})

t.test('a body that is not an object is a validation error of the whole body', async (t) => {
  for (const body of [[], 'text', 42, null]) {
    const response = await api(server.url, 'POST', '/api/auth/register/', { raw: JSON.stringify(body) })
    isError(t, response, 400, 'validation_error')
    t.ok(fields(response).length > 0, `${JSON.stringify(body)}: errors[] is not empty`)
  }
})

t.test('a rejected register stores nothing', async (t) => {
  const password = 'correct horse'
  const rejected: Array<Record<string, unknown>> = [
    { username: uniqueName('rej'), password, email: 'not-an-email' },
    { username: uniqueName('rej'), password, is_staff: true },
    { username: uniqueName('rej'), password, first_name: 'f'.repeat(151) },
    { username: uniqueName('rej'), password: 'short' }
  ]
  for (const body of rejected) {
    const username = body.username as string
    const refused = await api(server.url, 'POST', '/api/auth/register/', { body })
    t.equal(refused.status, 400, `${JSON.stringify(body).slice(0, 60)} refused`)
    isError(t, await login(username, body.password), 401, 'authentication_failed')
    const ok = await api(server.url, 'POST', '/api/auth/register/', { body: { username, password } })
    t.equal(ok.status, 201, 'the username is still free')
    t.equal((await login(username, password)).status, 200, 'and logs in once registered')
  }
})

t.test('login answers 200 with a new token that works, alongside the old one', async (t) => {
  const account = await register(server.url, uniqueName('login'), 'correct horse')
  const response = await login(account.user.username, 'correct horse')
  t.equal(response.status, 200)
  t.same(Object.keys(response.body).sort(), ['token', 'user'])
  t.match(response.body.token, TOKEN_PATTERN)
  t.not(response.body.token, account.token, 'a new token, not the register one')
  t.same(response.body.user, account.user)
  const fromLogin = await me(response.body.token)
  t.equal(fromLogin.status, 200)
  t.same(fromLogin.body, account.user)
  t.equal((await me(account.token)).status, 200, 'the register token still works')

  const second = await login(account.user.username, 'correct horse')
  t.not(second.body.token, response.body.token, 'each login issues another token')
})

t.test('login failure is 401 authentication_failed, the same for a wrong password and an unknown user', async (t) => {
  const account = await register(server.url, uniqueName('lf'), 'correct horse')
  const wrongPassword = await login(account.user.username, 'wrong horse')
  const unknownUser = await login(uniqueName('nobody'), 'correct horse')
  isError(t, wrongPassword, 401, 'authentication_failed')
  isError(t, unknownUser, 401, 'authentication_failed')
  t.same(wrongPassword.body, unknownUser.body, 'the bodies do not tell which was wrong')
})

t.test('login rejects a malformed body with 400 validation_error', async (t) => {
  const missing = await api(server.url, 'POST', '/api/auth/login/', { body: { username: 'someone' } })
  isError(t, missing, 400, 'validation_error')
  t.same(fields(missing), ['/password'])
  const unknown = await api(server.url, 'POST', '/api/auth/login/', {
    body: { username: 'someone', password: 'correct horse', remember: true }
  })
  isError(t, unknown, 400, 'validation_error')
  t.same(fields(unknown), ['/remember'])
  const wrongType = await api(server.url, 'POST', '/api/auth/login/', { body: { username: 1, password: 'x' } })
  isError(t, wrongType, 400, 'validation_error')
  t.same(fields(wrongType), ['/username'])
})

t.test('logout answers 204 with an empty body and the token stops working at once', async (t) => {
  const account = await register(server.url, uniqueName('out'))
  const other = await login(account.user.username, 'correct horse')
  t.equal(other.status, 200)

  const response = await fetch(new URL('/api/auth/logout/', server.url), {
    method: 'POST', headers: { authorization: `Token ${account.token}` }
  })
  t.equal(response.status, 204)
  t.equal(await response.text(), '', 'empty body')

  isError(t, await me(account.token), 401, 'authentication_failed')
  isError(t, await api(server.url, 'POST', '/api/auth/logout/', { token: account.token }), 401, 'authentication_failed')
  const still = await me(other.body.token)
  t.equal(still.status, 200, 'another token of the same user still works')
  t.same(still.body, account.user)
})

t.test('logout without a token is 401 not_authenticated', async (t) => {
  isError(t, await api(server.url, 'POST', '/api/auth/logout/'), 401, 'not_authenticated')
})

t.test('me answers 200 with exactly the User', async (t) => {
  const account = await register(server.url)
  const response = await me(account.token)
  t.equal(response.status, 200)
  t.same(Object.keys(response.body).sort(), USER_KEYS)
  t.same(response.body, account.user)
})

t.test('me without an Authorization header is 401 not_authenticated', async (t) => {
  isError(t, await api(server.url, 'GET', '/api/auth/me/'), 401, 'not_authenticated')
})

t.test('me with a malformed, unknown or revoked token is 401 authentication_failed', async (t) => {
  const account = await register(server.url)
  const malformed = [
    'abc',
    account.token.toUpperCase(),
    account.token.slice(0, 39),
    `${account.token}0`,
    `${account.token.slice(0, 39)}g`
  ]
  for (const token of malformed) isError(t, await me(token), 401, 'authentication_failed')
  isError(t, await me('0'.repeat(40)), 401, 'authentication_failed')
  isError(t, await me(account.token.replace(/^./, (c) => c === 'a' ? 'b' : 'a')), 401, 'authentication_failed')

  const revoked = await login(account.user.username, 'correct horse')
  t.equal((await api(server.url, 'POST', '/api/auth/logout/', { token: revoked.body.token })).status, 204)
  isError(t, await me(revoked.body.token), 401, 'authentication_failed')
  t.equal((await me(account.token)).status, 200, 'the untouched token still works')
})

t.test('me accepts Bearer as well as Token', async (t) => {
  const account = await register(server.url)
  const bearer = await api(server.url, 'GET', '/api/auth/me/', { headers: { authorization: `Bearer ${account.token}` } })
  t.equal(bearer.status, 200)
  t.same(bearer.body, account.user)
  const token = await api(server.url, 'GET', '/api/auth/me/', { headers: { authorization: `Token ${account.token}` } })
  t.same(token.body, account.user)
  const otherScheme = await api(server.url, 'GET', '/api/auth/me/', { headers: { authorization: `Basic ${account.token}` } })
  t.equal(otherScheme.status, 401, 'another scheme is refused')
})

t.test('every auth route answers with and without its trailing slash', async (t) => {
  for (const slash of ['/', '']) {
    const username = uniqueName('slash')
    const registered = await api(server.url, 'POST', `/api/auth/register${slash}`, { body: { username, password: 'correct horse' } })
    t.equal(registered.status, 201, `register${slash}`)
    const loggedIn = await api(server.url, 'POST', `/api/auth/login${slash}`, { body: { username, password: 'correct horse' } })
    t.equal(loggedIn.status, 200, `login${slash}`)
    const self = await api(server.url, 'GET', `/api/auth/me${slash}`, { token: loggedIn.body.token })
    t.equal(self.status, 200, `me${slash}`)
    t.equal(self.body.username, username)
    const out = await api(server.url, 'POST', `/api/auth/logout${slash}`, { token: loggedIn.body.token })
    t.equal(out.status, 204, `logout${slash}`)
    isError(t, await api(server.url, 'GET', `/api/auth/me${slash}`, { token: loggedIn.body.token }), 401, 'authentication_failed')
    t.equal((await api(server.url, 'GET', `/api/auth/me${slash}`, { token: registered.body.token })).status, 200)
  }
})

t.test('passwords are hashed with scrypt at PASSWORD_SCRYPT_N (16384 by default); a hash keeps its own cost', async (t) => {
  const stored = async (server: Awaited<ReturnType<typeof startServer>>, username: string) =>
    (await server.app.usersRepository.findByUsername(username))?.passwordHash
  // The suite's servers run at 1024 (test/helpers/server.ts); unset, the default applies.
  const defaults = await startServer(t, { PASSWORD_SCRYPT_N: '' })
  const username = uniqueName('cost')
  await register(defaults.url, username, 'correct horse')
  t.match(await stored(defaults, username), /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/)
  // The same database under a cheaper cost: the old hash still logs in, new ones are cheaper.
  await defaults.close()
  const cheaper = await startServer(t, { PASSWORD_SCRYPT_N: '1024' }, { DATABASE_URL: defaults.config.DATABASE_URL ?? '', DATA_DIR: defaults.config.DATA_DIR ?? '' })
  t.equal((await api(cheaper.url, 'POST', '/api/auth/login/', { body: { username, password: 'correct horse' } })).status, 200)
  t.equal((await api(cheaper.url, 'POST', '/api/auth/login/', { body: { username, password: 'wrong horse' } })).status, 401)
  const other = uniqueName('cost')
  await register(cheaper.url, other, 'correct horse')
  t.match(await stored(cheaper, other), /^scrypt\$1024\$8\$1\$/)
  t.equal((await api(cheaper.url, 'POST', '/api/auth/login/', { body: { username: other, password: 'correct horse' } })).status, 200)
})

t.test('PASSWORD_SCRYPT_N accepts only the powers of two from 1024 to 131072', async (t) => {
  for (const bad of ['1000', '512', '262144', 'x']) {
    t.throws(() => loadConfig({ PASSWORD_SCRYPT_N: bad }), /PASSWORD_SCRYPT_N/, bad)
  }
  t.equal(loadConfig({}).PASSWORD_SCRYPT_N, 16384)
  t.equal(loadConfig({ PASSWORD_SCRYPT_N: '4096' }).PASSWORD_SCRYPT_N, 4096)
})
