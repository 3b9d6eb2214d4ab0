import t, { type Test } from 'tap'
import { isError, makeStaff } from '../../helpers/assertions.js'
import { api, createRoom, join, openSocket, register, roomWith, type Account, type SocketClient } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

// One server for the file: every subtest makes its own users and rooms.
const server = await startServer(t)

const path = (room: string, rest = '') => `/api/chat/groups/${room}/${rest}`
const post = (a: Account, room: string, body: unknown) => api(server.url, 'POST', path(room, 'messages/'), { token: a.token, body })
const one = (a: Account, room: string, id: number) => api(server.url, 'GET', path(room, `messages/${id}/`), { token: a.token })
const edit = (a: Account, room: string, id: number, message: unknown) =>
  api(server.url, 'PATCH', path(room, `messages/${id}/`), { token: a.token, body: { message } })
const remove = (a: Account, room: string, id: number) => api(server.url, 'DELETE', path(room, `messages/${id}/`), { token: a.token })
const react = (a: Account, room: string, id: number, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') =>
  api(server.url, method, path(room, `messages/${id}/reactions/${encodeURIComponent(emoji)}/`), { token: a.token })
const changes = (a: Account, room: string, query = '') => api(server.url, 'GET', path(room, `changes/${query}`), { token: a.token })
const roomRev = async (a: Account, room: string) => (await changes(a, room, '?since=0&limit=500')).body.rev as number

async function open (t: Test, account: Account, room: string, options: { lastSeq?: number, lastRev?: number } = {}): Promise<SocketClient> {
  const socket = await openSocket(server.wsUrl, room, { token: account.token, ...options })
  t.teardown(() => socket.close())
  return socket
}

/** Refusals store nothing and take no rev: the room's changes feed is the same before and after. */
async function unchanged (t: Test, a: Account, room: string, run: () => Promise<void>) {
  const before = await changes(a, room, '?limit=500')
  await run()
  t.same((await changes(a, room, '?limit=500')).body, before.body, 'nothing stored, no rev taken')
}

t.test('POST messages/ stores, answers 201 with the 0.2 fields, broadcasts, and a retried client_id is 200', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const socket = await open(t, bob!, room.name)
  const sent = await post(owner, room.name, { message: '  hello  ', client_id: 'c-1' })
  t.equal(sent.status, 201)
  t.match(sent.body, { seq: 1, rev: 1, message: 'hello', message_type: 'text', client_id: 'c-1', edited_at: null, deleted: false, reply_to: null, reactions: [], mentions: [] })
  const frame = await socket.next((f) => f.type === 'message')
  t.same(frame, { type: 'message', ...sent.body }, 'the socket gets the same message')
  const again = await post(owner, room.name, { message: 'hello', client_id: 'c-1' })
  t.equal(again.status, 200)
  t.same(again.body, sent.body, 'the stored message, nothing stored')
  t.equal(await roomRev(owner, room.name), 1)
})

t.test('POST messages/ refusals: validation, non-member 403, private room 404, bad reply_to', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const outsider = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  await unchanged(t, owner, room.name, async () => {
    isError(t, await post(owner, room.name, { message: '   ' }), 400, 'validation_error', 'blank')
    isError(t, await post(owner, room.name, { message: 'x'.repeat(4001) }), 400, 'validation_error', 'too long')
    isError(t, await post(owner, room.name, { message: 'not a url', message_type: 'image' }), 400, 'validation_error', 'image')
    isError(t, await post(owner, room.name, { message: 'hi', extra: 1 }), 400, 'validation_error', 'extra field')
    isError(t, await post(owner, room.name, { message: 'hi', reply_to: 999999999 }), 400, 'validation_error', 'unknown reply_to')
    isError(t, await post(owner, room.name, { message: 'hi', reply_to: -1 }), 400, 'validation_error', 'negative reply_to')
    isError(t, await post(outsider, room.name, { message: 'hi' }), 403, 'permission_denied', 'outsider')
    isError(t, await post(outsider, secret.name, { message: 'hi' }), 404, 'not_found', 'private')
  })
  const reply = await post(owner, room.name, { message: 'hi', reply_to: 999999999 })
  t.same(reply.body.errors.map((e: { field: string }) => e.field), ['/reply_to'])
})

t.test('replies carry the excerpt taken at send time; deleting the original clears it in every reply, each with a rev', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const original = (await post(owner, room.name, { message: 'é'.repeat(250) })).body
  const reply = await post(bob!, room.name, { message: 'answer', reply_to: original.id })
  t.equal(reply.status, 201)
  t.same(reply.body.reply_to, { id: original.id, seq: original.seq, sender: owner.user, excerpt: 'é'.repeat(200) })
  await edit(owner, room.name, original.id, 'changed')
  t.equal((await one(bob!, room.name, reply.body.id)).body.reply_to.excerpt, 'é'.repeat(200), 'an edit keeps the excerpt')

  const socket = await open(t, bob!, room.name)
  const from = await roomRev(owner, room.name)
  t.equal((await remove(owner, room.name, original.id)).status, 204)
  const frames = await socket.until((fs) => fs.filter((f) => f.type === 'message_updated').length >= 2 && fs.filter((f) => f.type === 'message_updated'))
  t.same(frames.map((f: any) => [f.id, f.rev]), [[original.id, from + 1], [reply.body.id, from + 2]])
  t.equal(frames[1].reply_to.excerpt, '', 'the reply lost its excerpt')
  t.same((await one(bob!, room.name, reply.body.id)).body.reply_to, { ...reply.body.reply_to, excerpt: '' })

  // A reply to a tombstone is refused, and one to a message of another room.
  const other = await createRoom(server.url, owner.token)
  const elsewhere = (await post(owner, other.name, { message: 'elsewhere' })).body
  await unchanged(t, owner, room.name, async () => {
    isError(t, await post(owner, room.name, { message: 'x', reply_to: original.id }), 400, 'validation_error', 'to a tombstone')
    isError(t, await post(owner, room.name, { message: 'x', reply_to: elsewhere.id }), 400, 'validation_error', 'to another room')
  })
  // Over the socket: an error frame naming /reply_to, with the client_id.
  socket.send({ message: 'x', reply_to: original.id, client_id: 'r-1' })
  const error = await socket.next((f) => f.type === 'error')
  t.match(error, { code: 'validation_error', client_id: 'r-1', detail: /^\/reply_to/ })
  socket.send({ message: 'y', reply_to: reply.body.id, client_id: 'r-2' })
  t.same((await socket.next((f) => f.type === 'message' && f.client_id === 'r-2')).reply_to.id, reply.body.id)
})

t.test('GET one message: current state, tombstones included; 404 for an id of another room', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const other = await createRoom(server.url, owner.token)
  const m = (await post(owner, room.name, { message: 'one' })).body
  t.same((await one(owner, room.name, m.id)).body, m)
  isError(t, await one(owner, other.name, m.id), 404, 'not_found', 'other room')
  isError(t, await one(owner, room.name, 987654321), 404, 'not_found', 'unknown id')
  isError(t, await one(owner, room.name, 'abc' as unknown as number), 400, 'validation_error', 'not an id')
})

t.test('PATCH: the sender edits; edited_at, new rev, mentions recomputed; others 403, tombstone 404, same text no-op', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const m = (await post(owner, room.name, { message: 'hi' })).body
  const socket = await open(t, bob!, room.name)
  const edited = await edit(owner, room.name, m.id, `hi @${bob!.user.username.toUpperCase()}`)
  t.equal(edited.status, 200)
  t.equal(edited.body.rev, m.rev + 1)
  t.type(edited.body.edited_at, 'string')
  t.same(edited.body.mentions, [bob!.user.id], 'mentions recomputed, case-insensitively')
  t.same(await socket.next((f) => f.type === 'message_updated'), { type: 'message_updated', ...edited.body })
  const same = await edit(owner, room.name, m.id, ' ' + edited.body.message + ' ')
  t.same(same.body, edited.body, 'the same text changes nothing')
  const removed = await edit(owner, room.name, m.id, 'no one')
  t.same(removed.body.mentions, [], 'a mention taken out of the text')
  await unchanged(t, owner, room.name, async () => {
    isError(t, await edit(bob!, room.name, m.id, 'mine now'), 403, 'permission_denied', 'not the sender')
    isError(t, await edit(owner, room.name, m.id, ''), 400, 'validation_error', 'empty')
    isError(t, await edit(owner, room.name, 987654321, 'x'), 404, 'not_found', 'unknown')
  })
  await remove(owner, room.name, m.id)
  await unchanged(t, owner, room.name, async () => {
    isError(t, await edit(owner, room.name, m.id, 'back'), 404, 'not_found', 'tombstone')
  })
})

t.test('DELETE: sender, owner or staff; the tombstone keeps id, seq, sender, created_at; history stays gapless', async (t) => {
  const { owner, room, members: [bob, carol] } = await roomWith(server.url, 2)
  const staff = await register(server.url)
  await makeStaff(server, staff)
  await join(server.url, staff.token, room.name)
  const [a, b, c, d] = [
    (await post(bob!, room.name, { message: 'a', client_id: 'ka' })).body,
    (await post(bob!, room.name, { message: 'b' })).body,
    (await post(carol!, room.name, { message: 'c' })).body,
    (await post(carol!, room.name, { message: 'd' })).body
  ]
  await react(carol!, room.name, a.id, '👍')
  await unchanged(t, owner, room.name, async () => {
    isError(t, await remove(carol!, room.name, a.id), 403, 'permission_denied', 'another member')
  })
  t.equal((await remove(bob!, room.name, a.id)).status, 204, 'the sender')
  t.equal((await remove(owner, room.name, b.id)).status, 204, 'the owner')
  t.equal((await remove(staff, room.name, c.id)).status, 204, 'staff')
  const tombstone = (await one(owner, room.name, a.id)).body
  t.same(tombstone, {
    ...a, message: '', reactions: [], reply_to: null, mentions: [], deleted: true, rev: tombstone.rev
  }, 'the tombstone\'s exact shape')
  await unchanged(t, owner, room.name, async () => {
    t.equal((await remove(bob!, room.name, a.id)).status, 204, 'deleting a tombstone is a no-op')
    isError(t, await react(owner, room.name, a.id, '👍'), 404, 'not_found', 'reacting to a tombstone')
  })
  const history = (await api(server.url, 'GET', path(room.name, 'messages/'), { token: owner.token })).body.results
  t.same(history.map((m: any) => [m.seq, m.deleted]), [[d.seq, false], [c.seq, true], [b.seq, true], [a.seq, true]])
  // A retry of a deleted message's client_id answers with the tombstone, and stores nothing.
  const retry = await post(bob!, room.name, { message: 'a', client_id: 'ka' })
  t.equal(retry.status, 200)
  t.same(retry.body, tombstone)
})

t.test('reactions: order of first use, counts, user_ids, idempotence, limits', async (t) => {
  const { owner, room, members } = await roomWith(server.url, 2)
  const [bob, carol] = members as [Account, Account]
  const m = (await post(owner, room.name, { message: 'react to me' })).body
  const r1 = await react(bob, room.name, m.id, '👍')
  t.equal(r1.status, 200)
  t.same(r1.body.reactions, [{ emoji: '👍', count: 1, user_ids: [bob.user.id] }])
  t.equal(r1.body.rev, m.rev + 1)
  await react(carol, room.name, m.id, ':party:')
  const r3 = await react(carol, room.name, m.id, '👍')
  t.same(r3.body.reactions, [
    { emoji: '👍', count: 2, user_ids: [bob.user.id, carol.user.id] },
    { emoji: ':party:', count: 1, user_ids: [carol.user.id] }
  ])
  await unchanged(t, owner, room.name, async () => {
    t.same((await react(bob, room.name, m.id, '👍')).body, r3.body, 'again: no change')
    t.same((await react(owner, room.name, m.id, '👍', 'DELETE')).body, r3.body, 'none to remove: no change')
    isError(t, await react(bob, room.name, m.id, 'two words'), 400, 'validation_error', 'whitespace')
    isError(t, await react(bob, room.name, m.id, 'x'.repeat(33)), 400, 'validation_error', '33 characters')
    isError(t, await react(bob, room.name, m.id, '\u0007'), 400, 'validation_error', 'a control character')
  })
  t.equal((await react(bob, room.name, m.id, '😀'.repeat(32))).status, 200, '32 code points, percent-encoded')
  await react(bob, room.name, m.id, '😀'.repeat(32), 'DELETE')
  // Taken back to 0 and used again: it goes to the end.
  await react(bob, room.name, m.id, '👍', 'DELETE')
  await react(carol, room.name, m.id, '👍', 'DELETE')
  const back = await react(bob, room.name, m.id, '👍')
  t.same(back.body.reactions.map((r: any) => r.emoji), [':party:', '👍'])

  // Taken back and made again at once (one batch or two): the reaction moves behind the others', or is gone.
  await react(carol, room.name, m.id, '🔥')
  await react(bob, room.name, m.id, '🔥')
  const [gone, again] = await Promise.all([react(carol, room.name, m.id, '🔥', 'DELETE'), react(carol, room.name, m.id, '🔥')])
  t.same([gone.status, again.status], [200, 200])
  // Which of the two the server took first is the network's choice: taken back then made again, carol is last.
  const fire = (await one(owner, room.name, m.id)).body.reactions.find((r: any) => r.emoji === '🔥').user_ids
  t.ok([JSON.stringify([bob.user.id, carol.user.id]), JSON.stringify([bob.user.id])].includes(JSON.stringify(fire)), `🔥 by ${fire}`)

  // At most 50 distinct emojis: the 51st is refused.
  const n = await post(owner, room.name, { message: 'many' })
  for (let i = 0; i < 50; i++) t.equal((await react(owner, room.name, n.body.id, `:e${i}:`)).status, 200)
  await unchanged(t, owner, room.name, async () => {
    const refused = await react(owner, room.name, n.body.id, ':e50:')
    isError(t, refused, 400, 'validation_error', 'the 51st emoji')
    t.same(refused.body.errors.map((e: { field: string }) => e.field), ['/emoji'])
  })
  t.equal((await react(bob, room.name, n.body.id, ':e0:')).status, 200, 'an emoji already there is fine')
})

t.test('user_ids holds the first 50 reactors in order; the 51st moves up when one of them leaves', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const m = (await post(owner, room.name, { message: 'popular' })).body
  const people: Account[] = []
  for (let i = 0; i < 52; i++) {
    const a = await register(server.url)
    await join(server.url, a.token, room.name)
    people.push(a)
  }
  let last: any
  for (const a of people) last = (await react(a, room.name, m.id, '🎉')).body
  t.equal(last.reactions[0].count, 52)
  t.same(last.reactions[0].user_ids, people.slice(0, 50).map((a) => a.user.id))
  const after = (await react(people[0]!, room.name, m.id, '🎉', 'DELETE')).body
  t.equal(after.reactions[0].count, 51)
  t.same(after.reactions[0].user_ids, people.slice(1, 51).map((a) => a.user.id))
})

t.test('mentions: whole words, case, trailing dots, members only, in order, no repeats', async (t) => {
  const { owner, room, members: [bob, carol] } = await roomWith(server.url, 2)
  const outsider = await register(server.url)
  const [b, c] = [bob!.user.username, carol!.user.username]
  const text = `@${c.toUpperCase()}. hi @${b}, @${c} again; x@${b} @${outsider.user.username} @${b}x (@${b})`
  const m = (await post(owner, room.name, { message: text })).body
  t.same(m.mentions, [carol!.user.id, bob!.user.id])
  const socket = await open(t, bob!, room.name)
  socket.send({ message: `@${b}` })
  t.same((await socket.next((f) => f.type === 'message')).mentions, [bob!.user.id], 'on a socket send too')
})

t.test('changes/?since=: rev order, current state, pages, the next since; bad since or limit 400', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const ids: number[] = []
  for (let i = 0; i < 5; i++) ids.push((await post(owner, room.name, { message: `m${i}` })).body.id)
  await edit(owner, room.name, ids[1]!, 'edited')
  await react(owner, room.name, ids[0]!, '👍')
  const all = (await changes(owner, room.name)).body
  t.same(all.results.map((m: any) => m.id), [ids[2], ids[3], ids[4], ids[1], ids[0]])
  t.same(all.results.map((m: any) => m.rev), [3, 4, 5, 6, 7])
  t.equal(all.rev, 7)
  t.equal(all.has_more, false)
  const first = (await changes(owner, room.name, '?since=0&limit=2')).body
  t.equal(first.has_more, true)
  t.equal(first.rev, 4)
  const rest = (await changes(owner, room.name, `?since=${first.rev}&limit=2`)).body
  t.same(rest.results.map((m: any) => m.rev), [5, 6])
  const end = (await changes(owner, room.name, '?since=7')).body
  t.same(end, { results: [], rev: 7, has_more: false })
  t.same((await changes(owner, room.name, '?since=100')).body, { results: [], rev: 7, has_more: false }, 'a since beyond the room')
  for (const query of ['?since=-1', '?since=1.5', '?since=abc', '?limit=0', '?limit=501', '?other=1']) {
    isError(t, await changes(owner, room.name, query), 400, 'validation_error', query)
  }
  const outsider = await register(server.url)
  isError(t, await changes(outsider, room.name), 403, 'permission_denied', 'outsider')
})

t.test('resume with last_rev: new messages as message, changed old ones as message_updated, then live', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const old = (await post(owner, room.name, { message: 'old' })).body
  const older = (await post(owner, room.name, { message: 'older' })).body
  const mark = await roomRev(owner, room.name)
  await react(bob!, room.name, old.id, '👍')
  const fresh = (await post(owner, room.name, { message: 'new' })).body
  await edit(owner, room.name, fresh.id, 'new, edited')
  await remove(owner, room.name, older.id)
  const socket = await open(t, bob!, room.name, { lastRev: mark })
  const replayed = await socket.until((fs) => fs.length >= 3 && fs)
  t.same(replayed.map((f: any) => [f.type, f.id]), [
    ['message_updated', old.id], ['message', fresh.id], ['message_updated', older.id]
  ])
  t.same(replayed.map((f: any) => f.rev), [mark + 1, mark + 3, mark + 4], 'each in its current state')
  const live = (await post(owner, room.name, { message: 'live' })).body
  t.same((await socket.next((f) => f.id === live.id)).rev, mark + 5)
  const refused = await openSocket(server.wsUrl, room.name, { token: bob!.token, query: `token=${bob!.token}&last_rev=1&last_seq=1` })
    .then(() => 'opened', (error) => error.status)
  t.equal(refused, 400, 'last_seq and last_rev at once: 400 before the upgrade')
  for (const bad of ['-1', '1.5', 'x']) {
    const status = await openSocket(server.wsUrl, room.name, { query: `token=${bob!.token}&last_rev=${bad}` })
      .then(() => 'opened', (error) => error.status)
    t.equal(status, 400, `last_rev=${bad}`)
  }
})

t.test('changes count against the sender\'s rate limit', async (t) => {
  const limited = await startServer(t, { MESSAGE_RATE_PER_SECOND: '0.01', MESSAGE_BURST: '2' })
  const owner = await register(limited.url)
  const room = await createRoom(limited.url, owner.token)
  const m = await api(limited.url, 'POST', path(room.name, 'messages/'), { token: owner.token, body: { message: 'one' } })
  t.equal(m.status, 201)
  t.equal((await api(limited.url, 'PUT', path(room.name, `messages/${m.body.id}/reactions/x/`), { token: owner.token })).status, 200)
  const third = await api(limited.url, 'PATCH', path(room.name, `messages/${m.body.id}/`), { token: owner.token, body: { message: 'two' } })
  isError(t, third, 429, 'throttled', 'over the burst')
  t.ok(third.headers.get('retry-after'), 'says when to retry')
  t.equal((await api(limited.url, 'GET', path(room.name, `messages/${m.body.id}/`), { token: owner.token })).body.message, 'one')
})
