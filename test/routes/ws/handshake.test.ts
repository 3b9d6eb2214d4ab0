import t, { type Test } from 'tap'
import WebSocket from 'ws'
import {
  api, createRoom, join, openSocket, refusal, register, SocketClient, uniqueName, type Account
} from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

// One server for the file: every subtest makes its own users and rooms.
const server = await startServer(t)

/** The API's error body: exactly `detail` and `code`, plus `errors` for validation. */
function isRefusal (t: Test, answer: { status: number, body: any }, status: number, code: string) {
  t.equal(answer.status, status, `status ${status}`)
  t.equal(answer.body?.code, code, `code ${code}`)
  t.type(answer.body?.detail, 'string')
  const keys = code === 'validation_error' ? ['code', 'detail', 'errors'] : ['code', 'detail']
  t.same(Object.keys(answer.body ?? {}).sort(), keys, 'error body keys')
}

/**
 * The socket accepted the token of `account`: a message sent on it comes back with that user as its sender.
 * (The sender is whoever the server authenticated, so a socket opened as someone else would show here.)
 */
async function speaksAs (t: Test, socket: SocketClient, account: Account) {
  const text = uniqueName('hello')
  socket.send({ message: text })
  const frame = await socket.next((f) => f.type === 'message' && f.message === text)
  t.equal(frame.sender.username, account.user.username, 'sender is the token\'s user')
}

/** Opens `/ws/chat/<room>` with no trailing slash (the helper always adds one). */
function openWithoutSlash (room: string, token: string): Promise<SocketClient> {
  const socket = new WebSocket(`${server.wsUrl}/ws/chat/${room}?token=${token}`, { handshakeTimeout: 5000 })
  const client = new SocketClient(socket)
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client))
    socket.once('unexpected-response', (_request, response) => reject(new Error(`refused: ${response.statusCode}`)))
    socket.once('error', reject)
  })
}

t.test('the token is accepted from each of the places a client can put it', async (t) => {
  const alice = await register(server.url)
  const room = await createRoom(server.url, alice.token)

  t.test('?token= query parameter', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { token: alice.token })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, alice)
  })

  t.test('Authorization: Token <t> header', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { headers: { authorization: `Token ${alice.token}` } })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, alice)
  })

  t.test('Authorization: Bearer <t> header', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { headers: { authorization: `Bearer ${alice.token}` } })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, alice)
  })

  t.test('subprotocol pair "chat, token.<t>"; the server answers "chat"', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { protocols: ['chat', `token.${alice.token}`] })
    t.teardown(() => socket.close())
    t.equal(socket.socket.protocol, 'chat')
    await speaksAs(t, socket, alice)
  })

  t.test('a socket with no subprotocol gets none back', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { token: alice.token })
    t.teardown(() => socket.close())
    t.equal(socket.socket.protocol, '')
  })
})

t.test('handshakes without a valid token are refused with 401 before the upgrade', async (t) => {
  const alice = await register(server.url)
  const room = await createRoom(server.url, alice.token)

  t.test('no token at all: not_authenticated', async (t) => {
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name)), 401, 'not_authenticated')
  })

  t.test('a well-formed token nobody holds: authentication_failed', async (t) => {
    const token = 'a'.repeat(40)
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { token })), 401, 'authentication_failed')
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { headers: { authorization: `Token ${token}` } })),
      401, 'authentication_failed')
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { protocols: ['chat', `token.${token}`] })),
      401, 'authentication_failed')
  })

  t.test('a malformed token: authentication_failed', async (t) => {
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { token: 'not-a-token' })), 401, 'authentication_failed')
  })

  t.test('a token revoked by logout: authentication_failed', async (t) => {
    const login = await api(server.url, 'POST', '/api/auth/login/', {
      body: { username: alice.user.username, password: 'correct horse' }
    })
    t.equal(login.status, 200)
    const token: string = login.body.token
    const before = await openSocket(server.wsUrl, room.name, { token })
    before.close()
    t.equal((await api(server.url, 'POST', '/api/auth/logout/', { token })).status, 204)
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { token })), 401, 'authentication_failed')
  })
})

t.test('handshakes to rooms the caller may not enter are refused before the upgrade', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const publicRoom = await createRoom(server.url, owner.token)
  const privateRoom = await createRoom(server.url, owner.token, { is_private: true })

  t.test('a room that was never created: 404 not_found', async (t) => {
    isRefusal(t, await refusal(openSocket(server.wsUrl, uniqueName('nope'), { token: stranger.token })), 404, 'not_found')
  })

  t.test('a private room of others: the very same 404 as an unknown room', async (t) => {
    const hidden = await refusal(openSocket(server.wsUrl, privateRoom.name, { token: stranger.token }))
    const unknown = await refusal(openSocket(server.wsUrl, uniqueName('nope'), { token: stranger.token }))
    isRefusal(t, hidden, 404, 'not_found')
    t.same(hidden, unknown, 'status and body do not reveal that the room exists')
  })

  t.test('a public room the caller has not joined: 403 permission_denied', async (t) => {
    isRefusal(t, await refusal(openSocket(server.wsUrl, publicRoom.name, { token: stranger.token })), 403, 'permission_denied')
  })

  t.test('after joining, the same caller gets in', async (t) => {
    const joiner = await register(server.url)
    await join(server.url, joiner.token, publicRoom.name)
    const socket = await openSocket(server.wsUrl, publicRoom.name, { token: joiner.token })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, joiner)
  })

  t.test('the owner gets into their private room', async (t) => {
    const socket = await openSocket(server.wsUrl, privateRoom.name, { token: owner.token })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, owner)
  })
})

t.test('malformed handshakes are refused with 400 validation_error', async (t) => {
  const alice = await register(server.url)
  const room = await createRoom(server.url, alice.token)

  for (const name of ['bad!name', 'sp%20ace', 'x'.repeat(101)]) {
    t.test(`invalid room name ${name.slice(0, 20)}`, async (t) => {
      isRefusal(t, await refusal(openSocket(server.wsUrl, name, { token: alice.token })), 400, 'validation_error')
    })
  }

  for (const lastSeq of ['-1', 'abc', '1.5']) {
    t.test(`last_seq=${lastSeq}`, async (t) => {
      const answer = await refusal(openSocket(server.wsUrl, room.name, {
        query: `token=${alice.token}&last_seq=${lastSeq}`
      }))
      isRefusal(t, answer, 400, 'validation_error')
      t.match(answer.body.errors, [{ field: /last_seq/ }], 'the error names last_seq')
    })
  }

  t.test('an unknown query parameter', async (t) => {
    isRefusal(t, await refusal(openSocket(server.wsUrl, room.name, { query: `token=${alice.token}&foo=1` })),
      400, 'validation_error')
  })

  t.test('a valid last_seq is accepted', async (t) => {
    const socket = await openSocket(server.wsUrl, room.name, { token: alice.token, lastSeq: 0 })
    t.teardown(() => socket.close())
    await speaksAs(t, socket, alice)
  })
})

t.test('the socket URL answers without its trailing slash too', async (t) => {
  const alice = await register(server.url)
  const stranger = await register(server.url)
  const room = await createRoom(server.url, alice.token)
  const socket = await openWithoutSlash(room.name, alice.token)
  t.teardown(() => socket.close())
  await speaksAs(t, socket, alice)
  await t.rejects(openWithoutSlash(room.name, stranger.token), /refused: 403/, 'refusals apply there too')
})
