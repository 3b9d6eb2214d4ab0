import t, { type Test } from 'tap'
import { isError } from '../helpers/assertions.js'
import { createRoom, openSocket, refusal, register } from '../helpers/client.js'
import { startLoggedServer } from '../helpers/logged-server.js'
import { rawRequest, upgradeHeaders } from '../helpers/raw-http.js'

const server = await startLoggedServer(t)
const { url, wsUrl } = server

/** No log line holds `value`, once the server has logged the answer to the request that carried it (a refusal). */
async function notLogged (t: Test, value: string, what: string, answered = true) {
  if (answered) await server.waitFor((line) => typeof line.res?.statusCode === 'number' && line.reqId === lastReqId(), 5000, `the answer to ${what}`)
  t.same(server.lines.map((line) => JSON.stringify(line)).filter((line) => line.includes(value)).map((line) => line.slice(0, 300)), [],
    `${what}: the token is in no log line`)
}
const lastReqId = () => server.lines.filter((line) => line.req !== undefined).at(-1)?.reqId

t.test('only the literal `token` query parameter is the socket token, and no variant is logged in clear', async (t) => {
  const owner = await register(url)
  const room = await createRoom(url, owner.token)

  const encoded = await refusal(openSocket(wsUrl, room.name, { query: `%74oken=${owner.token}` }))
  t.equal(encoded.status, 400, 'a percent-encoded name is not the token')
  t.equal(encoded.body.code, 'validation_error')
  await notLogged(t, owner.token, '?%74oken=')

  const bracketed = await refusal(openSocket(wsUrl, room.name, { query: `token[]=${owner.token}` }))
  t.equal(bracketed.status, 400, 'token[] is refused')
  t.equal(bracketed.body.code, 'validation_error')
  await notLogged(t, owner.token, '?token[]=')

  const doubled = await refusal(openSocket(wsUrl, room.name, { query: `token=${owner.token}&token=${owner.token}` }))
  t.equal(doubled.status, 400, 'two tokens are refused')
  await notLogged(t, owner.token, 'two token parameters')

  const plain = await openSocket(wsUrl, room.name, { token: owner.token })
  plain.close()
  await plain.waitClose()
  await notLogged(t, owner.token, 'the plain token parameter', false)
})

t.test('REST takes only the Authorization header, whatever the Upgrade header says', async (t) => {
  const owner = await register(url)
  const before = await rawRequest(url, 'GET', '/api/chat/groups/', { headers: { authorization: `Token ${owner.token}` } })
  t.equal(before.status, 200)

  const upgradeMe = await rawRequest(url, 'GET', `/api/auth/me/?token=${owner.token}`, { headers: upgradeHeaders() })
  isError(t, upgradeMe, 401, 'not_authenticated', 'an upgrade to a REST route with ?token=')

  const write = await rawRequest(url, 'POST', `/api/chat/groups/?token=${owner.token}`, {
    headers: { upgrade: 'websocket', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'made_by_query_token' })
  })
  isError(t, write, 401, 'not_authenticated', 'a write with ?token= and Upgrade: websocket')

  const subprotocol = await rawRequest(url, 'POST', '/api/chat/groups/', {
    headers: { upgrade: 'websocket', 'sec-websocket-protocol': `chat, token.${owner.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'made_by_subprotocol' })
  })
  isError(t, subprotocol, 401, 'not_authenticated', 'a write with the subprotocol token')

  const after = await rawRequest(url, 'GET', '/api/chat/groups/', { headers: { authorization: `Token ${owner.token}` } })
  t.same(after.body, [], 'no room was created')

  // The socket route still takes both.
  const room = await createRoom(url, owner.token)
  const byQuery = await openSocket(wsUrl, room.name, { token: owner.token })
  const byProtocol = await openSocket(wsUrl, room.name, { protocols: ['chat', `token.${owner.token}`] })
  byQuery.close()
  byProtocol.close()
  await byQuery.waitClose()
  await byProtocol.waitClose()
})
