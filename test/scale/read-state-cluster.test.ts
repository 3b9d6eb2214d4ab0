import t, { type Test } from 'tap'
import { api, createRoom, join, openSocket, register, type Account, type SocketClient } from '../helpers/client.js'
import { clusterEnv, spawnInstance, waitUntil, type Instance } from '../helpers/cluster.js'

// Read state, presence in the members list and direct rooms across instances (Redis, one PostgreSQL database).

async function joined (t: Test, instance: Instance, account: Account, room: string): Promise<SocketClient> {
  const socket = await openSocket(instance.wsUrl, room, { token: account.token })
  t.teardown(() => socket.close())
  // A pong means the socket has joined its room (and is counted online).
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong', 0, 10_000)
  return socket
}

const onlineOf = async (instance: Instance, account: Account, room: string, user: Account) => {
  const members = (await api(instance.url, 'GET', `/api/chat/groups/${room}/members/`, { token: account.token })).body as any[]
  return members.find((m) => m.id === user.user.id)?.online as boolean | undefined
}

t.test('across instances: read frames reach the reader\'s other device and the others; online follows sockets', async (t) => {
  const { env } = await clusterEnv(t, { INSTANCE_HEARTBEAT_MS: '200' })
  const a = await spawnInstance(t, env)
  const b = await spawnInstance(t, env)
  const c = await spawnInstance(t, env)
  const owner = await register(a.url)
  const reader = await register(a.url)
  const room = await createRoom(a.url, owner.token)
  await join(b.url, reader.token, room.name)
  for (let k = 1; k <= 3; k++) {
    await api(a.url, 'POST', `/api/chat/groups/${room.name}/messages/`, { token: owner.token, body: { message: `m${k}` } })
  }

  const phone = await joined(t, a, reader, room.name)
  const laptop = await joined(t, b, reader, room.name)
  const watcher = await joined(t, b, owner, room.name)
  phone.send({ type: 'read', seq: 2 })
  const expected = { type: 'read', user: reader.user, seq: 2 }
  t.same(await laptop.next((f) => f.type === 'read', 0, 10_000), expected, 'the reader\'s second socket, on another instance')
  t.same(await watcher.next((f) => f.type === 'read', 0, 10_000), expected, 'another member, on another instance')
  // Over REST, on a third instance: every socket, the phone included.
  t.equal((await api(c.url, 'POST', `/api/chat/groups/${room.name}/read/`, { token: reader.token, body: { seq: 3 } })).status, 204)
  const third = { type: 'read', user: reader.user, seq: 3 }
  for (const [name, socket] of [['phone', phone], ['laptop', laptop], ['watcher', watcher]] as const) {
    t.same(await socket.next((f) => f.type === 'read' && f.seq === 3, 0, 10_000), third, `${name}: the latest position`)
  }
  t.equal(phone.frames.filter((f) => f.type === 'read' && f.seq === 2).length, 0, 'the phone was not told of its own read')
  const unread = (await api(c.url, 'GET', `/api/chat/groups/${room.name}/`, { token: reader.token })).body
  t.match(unread, { unread_count: 0, last_read_seq: 3 })

  // Online: a socket on any instance counts; closing it, or killing its instance, stops it counting.
  t.equal(await onlineOf(c, owner, room.name, reader), true, 'online, seen from an instance without its sockets')
  phone.close()
  laptop.close()
  await waitUntil('offline after both sockets closed', async () => await onlineOf(c, owner, room.name, reader) === false, 10_000)
  const again = await joined(t, a, reader, room.name)
  t.ok(again, 'a new socket on a')
  await waitUntil('online again', async () => await onlineOf(c, owner, room.name, reader) === true, 10_000)
  a.child.kill('SIGKILL')
  await waitUntil('offline once the dead instance is noticed', async () =>
    await onlineOf(c, owner, room.name, reader) === false, 15_000)
  t.pass('a killed instance\'s sockets stop counting')
})

t.test('with Redis down, the members list answers 503 unavailable (online is unknown), and 200 once it is back', async (t) => {
  const { env, redis } = await clusterEnv(t)
  const a = await spawnInstance(t, env)
  const owner = await register(a.url)
  const room = await createRoom(a.url, owner.token)
  const members = () => api(a.url, 'GET', `/api/chat/groups/${room.name}/members/`, { token: owner.token })
  t.equal((await members()).status, 200)
  await redis.stop()
  const down = await members()
  t.equal(down.status, 503)
  t.equal(down.body.code, 'unavailable')
  t.match(down.body.detail, /Presence/, 'refused by the presence lookup, not by something before it')
  await redis.start()
  await waitUntil('the members list back', async () => (await members()).status === 200, 20_000)
  t.match((await members()).body, [{ id: owner.user.id, online: false }])
})

t.test('direct rooms raced from both sides on two instances: one room', async (t) => {
  const { env } = await clusterEnv(t)
  const a = await spawnInstance(t, env)
  const b = await spawnInstance(t, env)
  for (let round = 0; round < 5; round++) {
    const ann = await register(a.url)
    const ben = await register(b.url)
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => i % 2 === 0
      ? api(a.url, 'POST', '/api/chat/direct/', { token: ann.token, body: { username: ben.user.username } })
      : api(b.url, 'POST', '/api/chat/direct/', { token: ben.token, body: { username: ann.user.username } })))
    t.same(answers.map((r) => r.status).filter((s) => s !== 200 && s !== 201), [], `round ${round}: every answer 200 or 201`)
    t.equal(new Set(answers.map((r) => r.body.id)).size, 1, `round ${round}: one room`)
    t.equal(answers.filter((r) => r.status === 201).length, 1, `round ${round}: made once`)
    const rooms = (await api(a.url, 'GET', '/api/chat/groups/', { token: ann.token })).body
    t.equal(rooms.length, 1, `round ${round}: ann is in one room`)
  }
})
