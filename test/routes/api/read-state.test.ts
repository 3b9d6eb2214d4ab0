import t, { type Test } from 'tap'
import { isError, makeStaff } from '../../helpers/assertions.js'
import { api, createRoom, join, openSocket, register, roomWith, type Account, type SocketClient } from '../../helpers/client.js'
import { waitUntil } from '../../helpers/cluster.js'
import { startServer } from '../../helpers/server.js'

// One server for the file: every subtest makes its own users and rooms.
const server = await startServer(t)

const path = (room: string, rest = '') => `/api/chat/groups/${room}/${rest}`
const send = async (a: Account, room: string, message: string) => {
  const response = await api(server.url, 'POST', path(room, 'messages/'), { token: a.token, body: { message } })
  if (response.status !== 201) throw new Error(`send failed: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}
const read = (a: Account, room: string, seq: unknown) => api(server.url, 'POST', path(room, 'read/'), { token: a.token, body: { seq } })
const getRoom = async (a: Account, room: string) => (await api(server.url, 'GET', path(room), { token: a.token })).body
const list = async (a: Account) => (await api(server.url, 'GET', '/api/chat/groups/', { token: a.token })).body as any[]
const members = async (a: Account, room: string) => (await api(server.url, 'GET', path(room, 'members/'), { token: a.token })).body as any[]
const badge = async (a: Account, room: string) => {
  const { unread_count: unread, unread_mentions: mentions, last_read_seq: lastRead } = await getRoom(a, room)
  return { unread, mentions, lastRead }
}

async function open (t: Test, account: Account, room: string): Promise<SocketClient> {
  const socket = await openSocket(server.wsUrl, room, { token: account.token })
  t.teardown(() => socket.close())
  // Its frames wait for its join: once it has its pong, it is in the room (and counted online).
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong')
  return socket
}

t.test('a newcomer has nothing unread; others\' sends count, your own do not and move your position', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  await send(owner, room.name, 'one')
  await send(owner, room.name, 'two')
  const carol = await register(server.url)
  await join(server.url, carol.token, room.name)
  t.same(await badge(carol, room.name), { unread: 0, mentions: 0, lastRead: 2 }, 'joining starts at the last seq')
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 0, lastRead: 0 })
  t.same(await badge(owner, room.name), { unread: 0, mentions: 0, lastRead: 2 }, 'a send moves the sender')
  await send(bob!, room.name, 'three')
  t.same(await badge(bob!, room.name), { unread: 0, mentions: 0, lastRead: 3 }, 'sending reads everything before')
  t.same(await badge(carol, room.name), { unread: 1, mentions: 0, lastRead: 2 })
  t.same(await badge(owner, room.name), { unread: 1, mentions: 0, lastRead: 2 })
})

t.test('read moves forward only, clamped to the last seq; 204 either way', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  for (const text of ['a', 'b', 'c', 'd']) await send(owner, room.name, text)
  t.equal((await read(bob!, room.name, 2)).status, 204)
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 0, lastRead: 2 })
  t.equal((await read(bob!, room.name, 1)).status, 204, 'backwards is a no-op 204')
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 0, lastRead: 2 })
  t.equal((await read(bob!, room.name, 1000)).status, 204)
  t.same(await badge(bob!, room.name), { unread: 0, mentions: 0, lastRead: 4 }, 'clamped to the last seq')
  await send(owner, room.name, 'e')
  t.same(await badge(bob!, room.name), { unread: 1, mentions: 0, lastRead: 4 }, 'the clamp leaves later messages unread')
})

t.test('read refusals: bad seq 400 naming /seq, non-member 403, private room 404; nothing moves', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  await send(owner, room.name, 'a')
  const outsider = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  for (const seq of [-1, 1.5, '1', null]) {
    const response = await read(bob!, room.name, seq)
    isError(t, response, 400, 'validation_error', `seq ${JSON.stringify(seq)}`)
    t.ok(response.body.errors.some((e: any) => e.field === '/seq'), 'names /seq')
  }
  isError(t, await api(server.url, 'POST', path(room.name, 'read/'), { token: bob!.token, body: {} }), 400, 'validation_error', 'no seq')
  isError(t, await read(outsider, room.name, 1), 403, 'permission_denied', 'outsider')
  isError(t, await read(outsider, secret.name, 1), 404, 'not_found', 'private')
  t.same(await badge(bob!, room.name), { unread: 1, mentions: 0, lastRead: 0 }, 'nothing moved')
  // The socket's read frame: an error frame, and the position stays.
  const socket = await open(t, bob!, room.name)
  for (const seq of [-1, 2.5, 'x']) {
    const from = socket.frames.length
    socket.send({ type: 'read', seq })
    t.match(await socket.next((f) => f.type === 'error', from), { code: 'validation_error' }, `read frame seq ${JSON.stringify(seq)}`)
  }
  t.same(await badge(bob!, room.name), { unread: 1, mentions: 0, lastRead: 0 })
})

t.test('unread counts leave out deleted messages; mentions follow sends, edits and deletions', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const name = bob!.user.username
  const first = await send(owner, room.name, `hi @${name.toUpperCase()}`)
  const second = await send(owner, room.name, 'plain')
  const third = await send(owner, room.name, `@${name}, and again @${name}`)
  t.same(await badge(bob!, room.name), { unread: 3, mentions: 2, lastRead: 0 }, 'a mention counts once per message, any case')
  t.equal((await api(server.url, 'DELETE', path(room.name, `messages/${first.id}/`), { token: owner.token })).status, 204)
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 1, lastRead: 0 }, 'a deletion takes it out of both')
  const edit = (id: number, message: string) =>
    api(server.url, 'PATCH', path(room.name, `messages/${id}/`), { token: owner.token, body: { message } })
  t.equal((await edit(second.id, `now for @${name}`)).status, 200)
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 2, lastRead: 0 }, 'an edit that adds a mention')
  t.equal((await edit(third.id, 'no one')).status, 200)
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 1, lastRead: 0 }, 'an edit that removes one')
  t.equal((await edit(third.id, `back to @${name}`)).status, 200)
  t.same(await badge(bob!, room.name), { unread: 2, mentions: 2, lastRead: 0 })
  await read(bob!, room.name, second.seq)
  t.same(await badge(bob!, room.name), { unread: 1, mentions: 1, lastRead: second.seq }, 'reading clears what it passes')
  await read(bob!, room.name, third.seq)
  t.same(await badge(bob!, room.name), { unread: 0, mentions: 0, lastRead: third.seq })
  // Deleting what was read changes nothing unread.
  await api(server.url, 'DELETE', path(room.name, `messages/${second.id}/`), { token: owner.token })
  t.same(await badge(bob!, room.name), { unread: 0, mentions: 0, lastRead: third.seq })
  // The owner mentioning themself: their own message is never unread.
  await send(owner, room.name, `@${owner.user.username} note to self`)
  t.same(await badge(owner, room.name), { unread: 0, mentions: 0, lastRead: third.seq + 1 })
})

t.test('last_message is the newest not deleted; null for a private room the caller is not in', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  t.equal((await getRoom(bob!, room.name)).last_message, null, 'none yet')
  const first = await send(owner, room.name, 'first')
  const second = await send(bob!, room.name, 'second')
  const shown = await getRoom(owner, room.name)
  t.same(shown.last_message, second, 'the full Message')
  t.equal(shown.rev, 2)
  await api(server.url, 'DELETE', path(room.name, `messages/${second.id}/`), { token: bob!.token })
  const after = await getRoom(owner, room.name)
  t.equal(after.last_message.id, first.id, 'the one before a deleted newest')
  t.equal(after.rev, 3, 'the deletion took a rev')
  const outsider = await register(server.url)
  const publicView = await getRoom(outsider, room.name)
  t.match(publicView, { unread_count: null, unread_mentions: null, last_read_seq: null, is_direct: false, peer: null })
  t.equal(publicView.last_message.id, first.id, 'a public room shows its last message to anyone')
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  await send(owner, secret.name, 'hidden')
  const staff = await register(server.url)
  await makeStaff(server, staff)
  const staffView = await getRoom(staff, secret.name)
  t.match(staffView, { unread_count: null, unread_mentions: null, last_read_seq: null, last_message: null },
    'staff outside a private room see no message of it')
  const listed = (await api(server.url, 'GET', `/api/chat/all-groups/?search=${secret.name}`, { token: staff.token })).body.results
  t.match(listed, [{ name: secret.name, is_member: false, last_message: null, unread_count: null }])
})

t.test('GET groups/ lists by latest activity, newest first', async (t) => {
  const user = await register(server.url)
  const a = await createRoom(server.url, user.token)
  const b = await createRoom(server.url, user.token)
  const c = await createRoom(server.url, user.token)
  const order = async () => (await list(user)).map((room) => room.name)
  t.same(await order(), [c.name, b.name, a.name], 'no messages: by creation, newest first')
  await send(user, a.name, 'wake a')
  t.same(await order(), [a.name, c.name, b.name])
  const inB = await send(user, b.name, 'wake b')
  t.same(await order(), [b.name, a.name, c.name])
  await api(server.url, 'DELETE', path(b.name, `messages/${inB.id}/`), { token: user.token })
  t.same(await order(), [a.name, c.name, b.name], 'a deleted last message no longer counts as activity')
  const rooms = await list(user)
  t.match(rooms[0], { name: a.name, unread_count: 0, last_message: { message: 'wake a' }, rev: 1 })
})

t.test('members show last_read_seq and online', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  await send(owner, room.name, 'x')
  const byName = async () => new Map((await members(owner, room.name)).map((m) => [m.username, m]))
  let shown = await byName()
  t.same(Object.keys(shown.get(bob!.user.username)).sort(), ['first_name', 'id', 'last_name', 'last_read_seq', 'online', 'username'])
  t.match(shown.get(bob!.user.username), { last_read_seq: 0, online: false })
  t.match(shown.get(owner.user.username), { last_read_seq: 1, online: false })
  const socket = await open(t, bob!, room.name)
  socket.send({ type: 'read', seq: 1 })
  await waitUntil('the read position', async () => (await byName()).get(bob!.user.username)?.last_read_seq === 1, 5000)
  shown = await byName()
  t.match(shown.get(bob!.user.username), { last_read_seq: 1, online: true }, 'online while a socket is open')
  socket.close()
  await waitUntil('offline after close', async () => (await byName()).get(bob!.user.username)?.online === false, 5000)
  t.pass('offline once the socket closed')
})

t.test('read frames: to every other socket, the reader\'s own other device included, not back to the reader', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  await send(owner, room.name, 'one')
  await send(owner, room.name, 'two')
  const phone = await open(t, bob!, room.name)
  const laptop = await open(t, bob!, room.name)
  const ownerSocket = await open(t, owner, room.name)
  phone.send({ type: 'read', seq: 2 })
  const isRead = (f: any) => f.type === 'read'
  const expected = { type: 'read', user: bob!.user, seq: 2 }
  t.same(await laptop.next(isRead), expected, 'the reader\'s other device')
  t.same(await ownerSocket.next(isRead), expected, 'the others')
  // The phone gets nothing for its own read: a pong after it proves the frame would have come by now.
  phone.send({ type: 'ping' })
  await phone.next((f) => f.type === 'pong')
  t.equal(phone.frames.filter(isRead).length, 0, 'not back to the socket that read')
  // Not moving sends nothing.
  const before = laptop.frames.filter(isRead).length
  t.equal((await read(bob!, room.name, 1)).status, 204)
  await send(owner, room.name, 'three')
  await laptop.next((f) => f.type === 'message' && f.message === 'three')
  t.equal(laptop.frames.filter(isRead).length, before, 'no frame for a read that did not move')
})

t.test('POST read/ tells every socket, the caller\'s own included', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  await send(owner, room.name, 'one')
  const phone = await open(t, bob!, room.name)
  const ownerSocket = await open(t, owner, room.name)
  t.equal((await read(bob!, room.name, 1)).status, 204)
  const expected = { type: 'read', user: bob!.user, seq: 1 }
  t.same(await phone.next((f) => f.type === 'read'), expected)
  t.same(await ownerSocket.next((f) => f.type === 'read'), expected)
})

t.test('read frames: at most one per user per second, and the latest always arrives', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  for (let k = 1; k <= 10; k++) await send(owner, room.name, `m${k}`)
  const phone = await open(t, bob!, room.name)
  const watcher = await open(t, owner, room.name)
  const started = Date.now()
  for (let seq = 1; seq <= 10; seq++) phone.send({ type: 'read', seq })
  const reads = () => watcher.frames.filter((f) => f.type === 'read')
  await watcher.until(() => reads().at(-1)?.seq === 10, 5000, 'the last read position')
  const seen = reads()
  t.ok(seen.length <= 2, `coalesced: ${seen.length} frames for 10 reads`)
  t.ok(seen.length < 2 || Date.now() - started >= 900, 'a second frame only after the interval')
  t.same(seen.map((f) => f.seq), [...seen.map((f) => f.seq)].sort((x, y) => x - y), 'in order')
  t.equal(seen.at(-1).seq, 10, 'the latest value')
  t.same(await badge(bob!, room.name), { unread: 0, mentions: 0, lastRead: 10 })
})
