import t from 'tap'
import { createRoom, register } from '../helpers/client.js'
import { rawRequest } from '../helpers/raw-http.js'
import { startServer, type TestServer } from '../helpers/server.js'

/** The `next` link of a one-room page of all-groups, asked with this Host (and other headers). */
async function nextLink (server: TestServer, token: string, headers: Record<string, string>) {
  const response = await rawRequest(server.url, 'GET', '/api/chat/all-groups/?limit=1', {
    headers: { authorization: `Token ${token}`, ...headers }
  })
  if (response.status !== 200) throw new Error(`all-groups: ${response.status} ${JSON.stringify(response.body)}`)
  return new URL(response.body.next as string)
}

async function withTwoRooms (server: TestServer) {
  const owner = await register(server.url)
  await createRoom(server.url, owner.token)
  await createRoom(server.url, owner.token)
  return owner.token
}

t.test('without PUBLIC_URL, links use the Host only when it is allowed', async (t) => {
  const server = await startServer(t)
  const token = await withTwoRooms(server)
  const port = new URL(server.url).port

  const evil = await nextLink(server, token, { host: 'evil.example' })
  t.equal(evil.origin, `http://127.0.0.1:${port}`, 'an unknown Host: the address the request came to')
  t.equal(evil.pathname, '/api/chat/all-groups/', 'the path is kept')
  t.ok(evil.searchParams.get('cursor'), 'with its cursor')

  t.equal((await nextLink(server, token, { host: 'localhost:1234' })).origin, 'http://localhost:1234', 'localhost, any port')
  t.equal((await nextLink(server, token, { host: '[::1]:8000' })).origin, 'http://[::1]:8000', '[::1], any port')
  t.equal((await nextLink(server, token, { host: 'localhost.evil.example' })).origin, `http://127.0.0.1:${port}`,
    'a name that only starts like an allowed one')
  t.equal((await nextLink(server, token, { host: 'localhost@evil.example' })).origin, `http://127.0.0.1:${port}`,
    'userinfo in the Host')
})

t.test('ALLOWED_HOSTS lists the names a Host may be, with or without a port', async (t) => {
  const server = await startServer(t, { ALLOWED_HOSTS: 'chat.example.com, api.example.com:8443', TRUST_PROXY: 'true' })
  const token = await withTwoRooms(server)
  const port = new URL(server.url).port
  t.equal((await nextLink(server, token, { host: 'chat.example.com' })).origin, 'http://chat.example.com')
  t.equal((await nextLink(server, token, { host: 'CHAT.example.com:80' })).origin, 'http://chat.example.com', 'any case, any port')
  t.equal((await nextLink(server, token, { host: 'api.example.com:8443' })).origin, 'http://api.example.com:8443')
  t.equal((await nextLink(server, token, { host: 'api.example.com:9999' })).origin, `http://127.0.0.1:${port}`, 'not that port')
  t.equal((await nextLink(server, token, { host: 'localhost' })).origin, `http://127.0.0.1:${port}`, 'the defaults are replaced')
  t.equal((await nextLink(server, token, { host: 'chat.example.com', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' })).origin,
    `https://127.0.0.1:${port}`, 'behind a proxy, X-Forwarded-Host is checked as well')
  t.equal((await nextLink(server, token, { host: 'x', 'x-forwarded-host': 'chat.example.com', 'x-forwarded-proto': 'https' })).origin,
    'https://chat.example.com', 'an allowed X-Forwarded-Host')
  t.equal((await nextLink(server, token, { host: 'chat.example.com', 'x-forwarded-proto': 'javascript' })).protocol,
    'http:', 'a protocol other than http or https is not copied')
})

t.test('with PUBLIC_URL, links are built from it whatever the Host', async (t) => {
  const server = await startServer(t, { PUBLIC_URL: 'https://chat.example.com/' })
  const token = await withTwoRooms(server)
  const next = await nextLink(server, token, { host: 'evil.example' })
  t.equal(next.origin, 'https://chat.example.com')
  t.equal(next.pathname, '/api/chat/all-groups/')
  t.equal(next.searchParams.get('limit'), '1', 'the other parameters are kept')
  t.equal((await nextLink(server, token, { host: 'localhost' })).origin, 'https://chat.example.com', 'even an allowed Host')
})
