import t, { type Test } from 'tap'
import WebSocket from 'ws'
import {
  api, createRoom, openSocket, register, roomWith, SocketClient, type Account
} from '../../helpers/client.js'
import { startServer, type TestServer } from '../../helpers/server.js'

// The file's main server; the heartbeat and backpressure tests start their own, with their settings.
const server = await startServer(t)

async function open (t: Test, target: TestServer, account: Account, room: string): Promise<SocketClient> {
  const socket = await openSocket(target.wsUrl, room, { token: account.token })
  t.teardown(() => socket.close())
  return socket
}

/** The socket is open and served: a ping frame gets its pong. */
async function isServed (t: Test, socket: SocketClient, what: string) {
  const from = socket.frames.length
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong', from)
  t.equal(socket.closeCode, undefined, `${what} stays open`)
}

async function closesWith (t: Test, socket: SocketClient, code: number, what: string) {
  const closed = await socket.waitClose()
  t.equal(closed.code, code, `${what} closes with ${code}`)
}

/** Waits, with a bound, until `condition()` holds: for server state that no frame announces. */
async function eventually (condition: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('logout closes the sockets opened with that token with 4401, and only those', async (t) => {
  const { owner: alice, room, members: [bob] } = await roomWith(server.url, 1)
  const otherRoom = await createRoom(server.url, alice.token)
  const login = await api(server.url, 'POST', '/api/auth/login/', {
    body: { username: alice.user.username, password: 'correct horse' }
  })
  t.equal(login.status, 200)
  const secondToken: Account = { token: login.body.token, user: alice.user }

  const revoked = [await open(t, server, alice, room.name), await open(t, server, alice, otherRoom.name)]
  const sameUserOtherToken = await open(t, server, secondToken, room.name)
  const someoneElse = await open(t, server, bob!, room.name)

  t.equal((await api(server.url, 'POST', '/api/auth/logout/', { token: alice.token })).status, 204)
  for (const [i, socket] of revoked.entries()) await closesWith(t, socket, 4401, `socket ${i} on the revoked token`)
  await isServed(t, sameUserOtherToken, 'the same user\'s socket on another token')
  await isServed(t, someoneElse, 'another user\'s socket')
})

t.test('a logout racing a socket\'s upgrade and join either refuses the upgrade or closes the socket', async (t) => {
  // The upgrade checks the token, then the socket joins its room (the first one there waits for the room to be
  // set up): a logout can land before, between or after. Never may the socket stay open on the revoked token.
  for (let i = 0; i < 20; i++) {
    const owner = await register(server.url)
    const room = await createRoom(server.url, owner.token)
    const [opened, logout] = await Promise.allSettled([
      openSocket(server.wsUrl, room.name, { token: owner.token }),
      api(server.url, 'POST', '/api/auth/logout/', { token: owner.token })
    ])
    t.equal(logout.status === 'fulfilled' && logout.value.status, 204, `round ${i}: logged out`)
    if (opened.status === 'rejected') {
      t.equal((opened.reason as { status?: number }).status, 401, `round ${i}: the upgrade is refused with 401`)
      continue
    }
    t.teardown(() => opened.value.close())
    await closesWith(t, opened.value, 4401, `round ${i}: the socket`)
  }
})

t.test('removal from a room closes that user\'s sockets in the room with 4403, and only those', async (t) => {
  const { owner, room, members: [bob, carol] } = await roomWith(server.url, 2)
  const bobsRoom = await createRoom(server.url, bob!.token)
  const bobs = [await open(t, server, bob!, room.name), await open(t, server, bob!, room.name)]
  const bobElsewhere = await open(t, server, bob!, bobsRoom.name)
  const carols = await open(t, server, carol!, room.name)
  const owners = await open(t, server, owner, room.name)

  t.test('the owner removes a member', async (t) => {
    const removed = await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/members/${bob!.user.username}/`,
      { token: owner.token })
    t.equal(removed.status, 204)
    for (const [i, socket] of bobs.entries()) await closesWith(t, socket, 4403, `the removed member's socket ${i}`)
    await isServed(t, bobElsewhere, 'the removed member\'s socket in another room')
    await isServed(t, carols, 'another member\'s socket')
    await isServed(t, owners, 'the owner\'s socket')
    const again = await openSocket(server.wsUrl, room.name, { token: bob!.token }).catch((error) => error)
    t.equal(again.status, 403, 'the removed member cannot reconnect')
  })

  t.test('a member leaves', async (t) => {
    t.equal((await api(server.url, 'POST', `/api/chat/groups/${room.name}/leave/`, { token: carol!.token })).status, 204)
    await closesWith(t, carols, 4403, 'the leaving member\'s socket')
    await isServed(t, owners, 'the owner\'s socket')
  })
})

t.test('deleting a room closes every socket in it with 4404', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const otherRoom = await createRoom(server.url, owner.token)
  const inRoom = [await open(t, server, owner, room.name), await open(t, server, bob!, room.name)]
  const elsewhere = await open(t, server, owner, otherRoom.name)

  t.equal((await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/`, { token: owner.token })).status, 204)
  for (const [i, socket] of inRoom.entries()) await closesWith(t, socket, 4404, `socket ${i} in the deleted room`)
  await isServed(t, elsewhere, 'the owner\'s socket in another room')
})

t.test('heartbeats keep answering clients and close silent ones with 4408', async (t) => {
  const fast = await startServer(t, { HEARTBEAT_INTERVAL_MS: '100' })
  const { owner, room } = await roomWith(fast.url, 0)

  const answering = await open(t, fast, owner, room.name)
  let pings = 0
  answering.socket.on('ping', () => { pings++ })

  const silentSocket = new WebSocket(`${fast.wsUrl}/ws/chat/${room.name}/?token=${owner.token}`, { autoPong: false })
  const silent = new SocketClient(silentSocket)
  t.teardown(() => silent.close())
  await new Promise((resolve, reject) => { silentSocket.once('open', resolve).once('error', reject) })

  await closesWith(t, silent, 4408, 'a client that does not answer pings')
  await eventually(() => pings >= 5, 5000, '5 pings')
  t.ok(pings >= 5, 'the answering client was pinged at least 5 times')
  await isServed(t, answering, 'a client that answers pings')
})

t.test('a client that stops reading is closed with 4408 while the others get every message', async (t) => {
  const limited = await startServer(t, { SOCKET_BUFFER_LIMIT: '65536' })
  const { owner, room, members: [slowUser, readerUser] } = await roomWith(limited.url, 2)
  const flooder = await open(t, limited, owner, room.name)
  const slow = await open(t, limited, slowUser!, room.name)
  const reader = await open(t, limited, readerUser!, room.name)
  const slowTcp = (slow.socket as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  slowTcp.pause()

  // The largest message there is (4000 characters of 4 bytes), in waves small enough for a reading socket's
  // kernel buffers, until the paused socket's buffers are full and the server gives up on it.
  const big = '😀'.repeat(4000)
  const WAVE = 16
  // Bounded by the default send burst of one user in one room (1000): 16 MB, far past any kernel buffers.
  const MAX = 1000
  let sent = 0
  let stop = false
  const flood = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- `stop` is set by the test while this loop awaits
    while (!stop && sent < MAX) {
      for (let i = 0; i < WAVE; i++) flooder.send({ message: big })
      sent += WAVE
      await reader.messageCount(sent, 60_000)
    }
  })()
  // The paused client cannot see the close frame until it reads again, and the server cuts the connection off
  // a few seconds after closing it: watch the server's side of the sockets, and read again as soon as it closes.
  // Meanwhile, what the server holds for any socket stays within the bound (plus the one frame that crossed it).
  let mostBuffered = 0
  const serverClosing = () => [...limited.app.websocketServer.clients].some((ws) => {
    mostBuffered = Math.max(mostBuffered, ws.bufferedAmount)
    return ws.readyState === ws.CLOSING
  })
  await eventually(() => serverClosing() || sent >= MAX, 120_000, 'the server to close the paused socket')
  stop = true
  slowTcp.resume()
  await flood
  await closesWith(t, slow, 4408, 'the paused client')
  t.ok(slow.messages().length < sent, 'the paused client was not sent everything')
  t.ok(mostBuffered <= 65536 + 20_000, `the server's memory for the paused client stayed bounded (${mostBuffered} bytes at most)`)

  const frames = await reader.messageCount(sent, 60_000)
  t.same(frames.map((f) => f.seq), Array.from({ length: sent }, (_, i) => i + 1), 'the reader got every message, in order')
  t.ok(frames.every((f) => f.message === big), 'intact')
  await isServed(t, reader, 'the reading socket')
  await isServed(t, flooder, 'the sending socket')
})

// Runs last: it closes the file's main server.
t.test('closing the server closes every open socket with 1001, joined or still joining', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const otherRoom = await createRoom(server.url, bob!.token)
  const joined = [
    await open(t, server, owner, room.name),
    await open(t, server, bob!, room.name),
    await open(t, server, bob!, otherRoom.name)
  ]
  for (const [i, socket] of joined.entries()) await isServed(t, socket, `socket ${i}`)
  // Upgraded, but possibly still joining its room (reading the room's last seq) when the shutdown starts.
  const fresh = await open(t, server, bob!, otherRoom.name)
  await server.close()
  for (const [i, socket] of [...joined, fresh].entries()) await closesWith(t, socket, 1001, `socket ${i}`)
})
