import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import t from 'tap'
import { isError } from '../helpers/assertions.js'
import { api, createRoom, register } from '../helpers/client.js'
import { startLoggedServer } from '../helpers/logged-server.js'
import { rawExchange, rawRequest, upgradeHeaders } from '../helpers/raw-http.js'
import { startServer } from '../helpers/server.js'

// Requests at the edges of HTTP, as a hostile client sends them: each gets the API's error body, never a 5xx,
// and nothing of it reaches the log unchecked.
const server = await startLoggedServer(t)
const { url } = server

/** The status line and the parsed JSON body of a raw HTTP answer. */
function parseAnswer (answer: string) {
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  let json: any
  try { json = JSON.parse(body) } catch { json = body }
  return { status: Number(head.split(' ')[1]), head, body: json }
}

t.test('X-Request-Id is taken into the log only when short and plain', async (t) => {
  const good = `edge-${randomUUID()}`.slice(0, 40)
  await api(url, 'GET', '/healthz', { headers: { 'x-request-id': good } })
  t.ok(server.lines.some((line) => line.reqId === good), 'a plain id is kept')

  for (const [what, id] of [['too long', 'a'.repeat(65)], ['a space and a quote', 'x "injected": 1'], ['non-ASCII', 'id\u00e9'],
    ['percent-encoded', 'id%0Afake']]) {
    const marker = randomUUID()
    await rawRequest(url, 'GET', `/healthz?probe=${marker}`, { headers: { 'x-request-id': id! } })
    const line = await server.waitFor((entry) => entry.req?.url === `/healthz?probe=${marker}`)
    t.not(line.reqId, id, `${what}: not taken`)
    t.match(line.reqId, /^[A-Za-z0-9._-]{1,64}$/, `${what}: one is generated`)
  }
})

t.test('METRICS_TOKEN protects /metrics', async (t) => {
  const open = await api(url, 'GET', '/metrics')
  t.equal(open.status, 200, 'unset: public, as before')
  const guarded = await startServer(t, { METRICS_TOKEN: 'metrics-secret-0123456789' })
  isError(t, await api(guarded.url, 'GET', '/metrics'), 401, 'not_authenticated', 'no token')
  isError(t, await api(guarded.url, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong' } }), 401,
    'authentication_failed', 'a wrong token')
  const user = await register(guarded.url)
  isError(t, await api(guarded.url, 'GET', '/metrics', { token: user.token }), 401, 'authentication_failed', 'a user token')
  const ok = await api(guarded.url, 'GET', '/metrics', { headers: { authorization: 'Bearer metrics-secret-0123456789' } })
  t.equal(ok.status, 200, 'the right token')
  t.match(ok.body, /http_requests_total/)
})

t.test('routes that take no body refuse one with fields, and accept none, an empty one or {}', async (t) => {
  const owner = await register(url)
  const room = await createRoom(url, owner.token)
  const member = await register(url)
  const join = `/api/chat/groups/${room.name}/join/`
  isError(t, await api(url, 'POST', join, { token: member.token, body: { admin: true } }), 400, 'validation_error', 'join with a field')
  isError(t, await api(url, 'POST', join, { token: member.token, body: [1] }), 400, 'validation_error', 'join with an array')
  isError(t, await api(url, 'POST', join, { token: member.token, raw: 'hello', headers: { 'content-type': 'text/plain' } }), 400,
    'validation_error', 'join with text')
  const refused = await api(url, 'POST', join, { token: member.token, body: { admin: true } })
  t.same(refused.body.errors, [{ field: '/admin', message: 'Unexpected property' }], 'the field is named')
  t.equal((await api(url, 'POST', join, { token: member.token, body: {} })).status, 200, 'join with {}')
  t.equal((await api(url, 'POST', join, { token: member.token, raw: '', headers: { 'content-type': 'application/json' } })).status, 200,
    'join with an empty JSON body')
  t.equal((await rawRequest(url, 'POST', join, { headers: { authorization: `Token ${member.token}` } })).status, 200,
    'join with no body and no content type')
  isError(t, await api(url, 'POST', `/api/chat/groups/${room.name}/leave/`, { token: member.token, body: { x: 1 } }), 400,
    'validation_error', 'leave with a field')
  isError(t, await api(url, 'POST', '/api/auth/logout/', { token: member.token, body: { all: true } }), 400,
    'validation_error', 'logout with a field')
  t.equal((await api(url, 'GET', '/api/auth/me/', { token: member.token })).status, 200, 'the refused logout did nothing')
  t.equal((await rawRequest(url, 'POST', '/api/auth/logout/', { headers: { authorization: `Token ${member.token}` } })).status, 204,
    'a body-less logout')
  isError(t, await api(url, 'POST', '/nowhere/', { body: { x: 1 } }), 404, 'not_found', 'no route, with a body')
})

t.test('a JSON body that is not valid UTF-8 is refused, not stored with U+FFFD', async (t) => {
  const owner = await register(url)
  const body = Buffer.concat([Buffer.from('{"name": "bad_utf8", "description": "bad '), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])
  const response = await rawRequest(url, 'POST', '/api/chat/groups/', {
    headers: { authorization: `Token ${owner.token}`, 'content-type': 'application/json' }, body
  })
  isError(t, response, 400, 'validation_error', 'invalid UTF-8')
  t.same((await api(url, 'GET', '/api/chat/groups/', { token: owner.token })).body, [], 'no room was created')
  const good = await api(url, 'POST', '/api/chat/groups/', { token: owner.token, body: { name: 'ok_utf8', description: 'déjà vu 🎉' } })
  t.equal(good.status, 201, 'valid UTF-8 is accepted')
  t.equal(good.body.description, 'déjà vu 🎉')
})

t.test('a client that aborts its body is not a database outage', async (t) => {
  const id = `abort-${randomUUID()}`
  const socket = connect(server.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('POST /api/auth/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
    `Content-Length: 1000\r\nX-Request-Id: ${id}\r\n\r\n{"username": "a`)
  await server.waitFor((line) => line.reqId === id && line.req !== undefined, 5000, 'the request line')
  // The server has read the head and is reading the body: drop the connection halfway through it.
  socket.destroy()
  await server.waitFor((line) => line.reqId === id && line.req === undefined, 5000,
    'the end of the aborted request')
  const mine = server.lines.filter((line) => line.reqId === id)
  t.same(mine.filter((line) => line.level >= 50).map((line) => line.msg), [], 'nothing at error level')
  t.notOk(mine.some((line) => line.code === 'unavailable' || line.res?.statusCode === 503), 'not taken for a database outage')
})

t.test('OPTIONS without preflight headers and malformed upgrades get the error shape', async (t) => {
  const options = await rawRequest(url, 'OPTIONS', '/api/chat/groups/')
  isError(t, options, 400, 'validation_error', 'OPTIONS without preflight headers')
  const cors = await startServer(t, { CORS_ORIGINS: 'https://app.example.com' })
  const preflight = await rawRequest(cors.url, 'OPTIONS', '/api/chat/groups/', {
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' }
  })
  t.equal(preflight.status, 204, 'a real preflight is still answered')
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
  const owner = await register(url)
  const room = await createRoom(url, owner.token)
  const socketPath = `/ws/chat/${room.name}/?token=${owner.token}`
  const { 'sec-websocket-key': _key, ...noKey } = upgradeHeaders()
  isError(t, await rawRequest(url, 'GET', socketPath, { headers: noKey }), 400, 'validation_error', 'no Sec-WebSocket-Key')
  isError(t, await rawRequest(url, 'GET', socketPath, { headers: { ...upgradeHeaders(), 'sec-websocket-key': 'short' } }), 400,
    'validation_error', 'a bad Sec-WebSocket-Key')
  const badVersion = await rawRequest(url, 'GET', socketPath, { headers: { ...upgradeHeaders(), 'sec-websocket-version': '12' } })
  isError(t, badVersion, 400, 'validation_error', 'a bad version')
  t.equal(badVersion.headers['sec-websocket-version'], '13, 8', 'the versions served are named')
  isError(t, await rawRequest(url, 'GET', socketPath, { headers: { ...upgradeHeaders(), 'sec-websocket-protocol': 'chat,, @' } }), 400,
    'validation_error', 'a malformed subprotocol list')
  isError(t, await rawRequest(url, 'GET', `/ws/chat/${room.name}/`, { headers: noKey }), 400, 'validation_error',
    'no key and no token: the handshake is refused first')
})

t.test('a slow client is cut at REQUEST_TIMEOUT_MS', async (t) => {
  const slow = await startServer(t, { REQUEST_TIMEOUT_MS: '1000' })
  const port = Number(new URL(slow.url).port)
  for (const [what, text] of [
    ['slow headers', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: '],
    ['a slow body', 'POST /api/auth/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"us']
  ]) {
    const started = Date.now()
    const answer = parseAnswer(await rawExchange(port, text!, 5000))
    const took = Date.now() - started
    t.equal(answer.status, 408, `${what}: 408`)
    t.equal(answer.body.code, 'validation_error', `${what}: the error shape`)
    t.ok(took >= 900 && took < 3000, `${what}: cut after ${took} ms (1000 configured)`)
  }
  const defaults = await startServer(t)
  t.equal(defaults.app.server.requestTimeout, 30_000, 'by default a request has 30 s')
  t.ok(defaults.app.server.headersTimeout <= 30_000, 'and its headers no longer')
})
