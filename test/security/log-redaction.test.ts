import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { request as httpRequest } from 'node:http'
import type { FastifyServerOptions } from 'fastify'
import t from 'tap'
import { api, createRoom, openSocket, refusal, register, uniqueName } from '../helpers/client.js'
import { freshDatabase } from '../helpers/server.js'
import { buildServer, loggerOptions } from '../../src/build.js'
import { loadConfig } from '../../src/config.js'

// The server as startServer builds it, at LOG_LEVEL=trace, with its log written here instead of to stdout.
const lines: string[] = []
const stream = {
  write (chunk: string) {
    for (const line of chunk.split('\n')) if (line !== '') lines.push(line)
  }
}
const config = loadConfig({ ...await freshDatabase(t), LOG_LEVEL: 'trace', HOST: '127.0.0.1', PORT: '0' })
const logger = { ...loggerOptions(config) as Exclude<FastifyServerOptions['logger'], boolean | undefined>, stream }
const app = await buildServer(config, { logger })
await app.listen({ host: config.HOST, port: 0 })
t.teardown(() => app.close())
const port = (app.server.address() as { port: number }).port
const url = `http://127.0.0.1:${port}`
const wsUrl = `ws://127.0.0.1:${port}`

// Every token the session uses or is refused with; none may appear in any log line.
const secrets: Array<{ what: string, value: string }> = []
const secret = (what: string, value: string) => { secrets.push({ what, value }); return value }

/** A socket upgrade request to any path, as a client that gets the URL wrong would send it; resolves on the answer. */
function upgrade (path: string, headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, {
      agent: false,
      timeout: 5000,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers
      }
    })
    request.on('timeout', () => request.destroy(new Error('upgrade timed out')))
    request.on('upgrade', (response, socket) => { socket.destroy(); resolve(response.statusCode ?? 0) })
    request.on('response', (response) => { response.resume(); response.on('end', () => resolve(response.statusCode ?? 0)) })
    request.on('error', reject)
    request.end()
  })
}

/** Bytes that are not valid HTTP, with a token in a header; resolves with the status line of the answer. */
function malformed (token: string) {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer to a malformed request')))
    socket.write(`GET /api/auth/me/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token ${token}\r\nnot a header\r\n\r\n`)
  })
}

t.test('a whole session at LOG_LEVEL=trace leaves no token in the log', async (t) => {
  const password = 'correct horse'
  const account = await register(url, uniqueName('logged'), password)
  secret('the token from register', account.token)
  const login = await api(url, 'POST', '/api/auth/login/', { body: { username: account.user.username, password } })
  t.equal(login.status, 200, 'login')
  const token = secret('the token from login', login.body.token)
  const other = secret('the token of another user', (await register(url)).token)

  // REST with the header, in both schemes; a token in a REST URL is not taken, but is logged only redacted.
  t.equal((await api(url, 'GET', '/api/auth/me/', { token })).status, 200, 'Authorization: Token')
  t.equal((await api(url, 'GET', '/api/auth/me/', { headers: { authorization: `Bearer ${token}` } })).status, 200,
    'Authorization: Bearer')
  const room = await createRoom(url, token)
  t.equal((await api(url, 'GET', `/api/auth/me/?token=${token}`)).status, 401, 'a token in a REST URL is not used')

  // The socket, with the token in the URL, in the header, and in the subprotocol pair.
  const inUrl = await openSocket(wsUrl, room.name, { token })
  inUrl.send({ message: 'hello from the URL socket' })
  await inUrl.next((f) => f.type === 'message')
  const inHeader = await openSocket(wsUrl, room.name, { headers: { authorization: `Token ${token}` } })
  const inProtocol = await openSocket(wsUrl, room.name, { protocols: ['chat', `token.${token}`] })
  t.equal(inProtocol.socket.protocol, 'chat', 'the subprotocol pair is accepted')
  inProtocol.send({ message: 'hello from the subprotocol socket' })
  await inHeader.next((f) => f.type === 'message' && f.message === 'hello from the subprotocol socket')

  // Refusals and errors, each with a token in it.
  const unknown = secret('an unknown well-formed token', randomBytes(20).toString('hex'))
  const garbage = secret('a malformed token', `x${randomBytes(24).toString('hex')}`)
  t.equal((await refusal(openSocket(wsUrl, room.name, { token: unknown }))).status, 401, 'unknown token in the URL')
  t.equal((await refusal(openSocket(wsUrl, room.name, { token: garbage }))).status, 401, 'malformed token in the URL')
  t.equal((await refusal(openSocket(wsUrl, room.name, { protocols: ['chat', `token.${unknown}`] }))).status, 401,
    'unknown token in the subprotocol')
  t.equal((await refusal(openSocket(wsUrl, 'no_such_room', { token: other }))).status, 404, 'no such room')
  t.equal((await refusal(openSocket(wsUrl, room.name, { query: `token=${token}&last_seq=-1` }))).status, 400,
    'a valid token with an invalid query')
  t.equal((await api(url, 'GET', '/api/auth/me/', { token: unknown })).status, 401, 'unknown token in the header')
  t.equal((await api(url, 'GET', '/api/auth/me/', { headers: { authorization: `Token ${garbage}` } })).status, 401,
    'malformed token in the header')
  t.equal(await upgrade(`/ws/chat/%zz/?token=${token}`), 400, 'a broken URL with a token in it')
  t.equal(await upgrade(`/ws/chat/${'a'.repeat(300)}/?token=${token}`), 400, 'an over-long path with a token in it')
  t.equal(await upgrade(`/api/auth/me/?token=${token}`), 401, 'an upgrade on a REST URL: REST takes no token from the URL')
  t.equal(await upgrade(`/nowhere/?token=${token}`), 404, 'an upgrade on no route')
  t.match(await malformed(token), /^HTTP\/1\.1 400/, 'a request that is not HTTP, with the token in a header')

  // Logout: the token stops working, and its sockets close with 4401.
  t.equal((await api(url, 'POST', '/api/auth/logout/', { token })).status, 204, 'logout')
  t.equal((await inUrl.waitClose()).code, 4401, 'the URL socket closes with 4401')
  t.equal((await refusal(openSocket(wsUrl, room.name, { token }))).status, 401, 'the revoked token in the URL')
  inHeader.close()
  inProtocol.close()
  await inHeader.waitClose()
  await inProtocol.waitClose()
})

/** A line's text, plus the text of every Buffer it holds (a serialized Buffer is a list of byte values). */
function readable (line: string): string {
  const buffers: string[] = []
  JSON.parse(line, (_key, value) => {
    if (value?.type === 'Buffer' && Array.isArray(value.data)) buffers.push(Buffer.from(value.data).toString('latin1'))
    return value
  })
  return [line, ...buffers].join('\n')
}

t.test('no token appears in any log line; the requests were logged, with their URLs redacted', async (t) => {
  t.ok(lines.length > 50, `${lines.length} log lines captured`)
  t.ok(secrets.length >= 5, `${secrets.length} tokens to look for`)
  const texts = lines.map(readable)
  for (const { what, value } of secrets) {
    const leaks = texts.filter((text) => text.includes(value))
    t.same(leaks.map((text) => text.slice(0, 300)), [], `${what} is in no log line`)
  }
  const entries = lines.map((line) => JSON.parse(line))
  const urls = entries.map((entry) => entry.req?.url).filter((value): value is string => typeof value === 'string')
  t.ok(urls.includes('/api/auth/login/'), 'the login was logged')
  t.ok(urls.some((value) => value.startsWith('/ws/chat/') && value.includes('token=[redacted]')),
    'socket URLs were logged with token=[redacted]')
  t.ok(urls.includes('/api/auth/me/?token=[redacted]'), 'a REST URL with a token was logged redacted')
  t.ok(entries.some((entry) => entry.res?.statusCode === 401), 'the 401s were logged')
  t.ok(entries.every((entry) => entry.level >= 10), 'every line is a pino record')
  t.ok(entries.filter((entry) => entry.req !== undefined).every((entry) => typeof entry.reqId === 'string'),
    'every request line carries its request id')
})
