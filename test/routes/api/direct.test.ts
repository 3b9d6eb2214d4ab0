import t from 'tap'
import { isError, makeStaff } from '../../helpers/assertions.js'
import { api, openSocket, refusal, register, type Account } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

const server = await startServer(t)

const direct = (a: Account, username: unknown) => api(server.url, 'POST', '/api/chat/direct/', { token: a.token, body: { username } })
const path = (room: string, rest = '') => `/api/chat/groups/${room}/${rest}`
const call = (a: Account, method: string, url: string, body?: unknown) => api(server.url, method, url, { token: a.token, body })

async function pair () {
  const ann = await register(server.url)
  const ben = await register(server.url)
  const made = await direct(ann, ben.user.username)
  return { ann, ben, made, room: made.body.name as string }
}

t.test('201 the first time, 200 with the same room after, from either side', async (t) => {
  const { ann, ben, made, room } = await pair()
  t.equal(made.status, 201)
  t.match(made.body, {
    is_private: true,
    is_direct: true,
    members_count: 2,
    peer: ben.user,
    unread_count: 0,
    unread_mentions: 0,
    last_read_seq: 0,
    last_message: null,
    rev: 0
  })
  const again = await direct(ann, ben.user.username)
  t.equal(again.status, 200)
  t.same(again.body, made.body, 'the same room')
  const back = await direct(ben, ann.user.username)
  t.equal(back.status, 200)
  t.equal(back.body.id, made.body.id)
  t.same(back.body.peer, ann.user, 'the peer is the other member, for each of them')
  const members = (await call(ann, 'GET', path(room, 'members/'))).body.map((m: any) => m.id).sort()
  t.same(members, [ann.user.id, ben.user.id].sort())
  const listed = (await call(ben, 'GET', '/api/chat/groups/')).body
  t.match(listed, [{ id: made.body.id, is_direct: true, peer: ann.user }], 'in both members\' room lists')
})

t.test('refusals: yourself 400, unknown user 404, bad body 400; nothing made', async (t) => {
  const ann = await register(server.url)
  isError(t, await direct(ann, ann.user.username), 400, 'validation_error', 'yourself')
  isError(t, await direct(ann, 'no_such_user_here'), 404, 'not_found', 'unknown')
  isError(t, await direct(ann, 'x'), 400, 'validation_error', 'too short')
  isError(t, await direct(ann, 42), 400, 'validation_error', 'not a string')
  isError(t, await api(server.url, 'POST', '/api/chat/direct/', { token: ann.token, body: {} }), 400, 'validation_error', 'no username')
  isError(t, await api(server.url, 'POST', '/api/chat/direct/', { body: { username: 'someone' } }), 401, 'not_authenticated', 'no token')
  t.same((await call(ann, 'GET', '/api/chat/groups/')).body, [], 'no room was made')
})

t.test('its members chat, but cannot add, leave, remove or change it; join is a no-op', async (t) => {
  const { ann, ben, room } = await pair()
  const carl = await register(server.url)
  isError(t, await call(ann, 'POST', path(room, 'members/'), { username: carl.user.username }), 403, 'permission_denied', 'add')
  isError(t, await call(ann, 'POST', path(room, 'leave/')), 403, 'permission_denied', 'leave')
  isError(t, await call(ben, 'DELETE', path(room, `members/${ben.user.username}/`)), 403, 'permission_denied', 'remove oneself')
  isError(t, await call(ann, 'DELETE', path(room, `members/${ben.user.username}/`)), 403, 'permission_denied', 'remove the other')
  isError(t, await call(ann, 'PATCH', path(room), { description: 'ours' }), 403, 'permission_denied', 'PATCH')
  const joined = await call(ben, 'POST', path(room, 'join/'))
  t.equal(joined.status, 200, 'join: the 0.1 no-op')
  t.equal(joined.body.members_count, 2)
  const sent = await call(ann, 'POST', path(room, 'messages/'), { message: 'hi ben' })
  t.equal(sent.status, 201)
  const socket = await openSocket(server.wsUrl, room, { token: ben.token })
  t.teardown(() => socket.close())
  socket.send({ message: 'hi ann' })
  await socket.next((f) => f.type === 'message' && f.message === 'hi ann')
  // No owner: each deletes only their own messages.
  isError(t, await call(ben, 'DELETE', path(room, `messages/${sent.body.id}/`)), 403, 'permission_denied', 'the other\'s message')
  t.equal((await call(ann, 'DELETE', path(room, `messages/${sent.body.id}/`))).status, 204, 'one\'s own message')
  t.match((await call(ann, 'GET', path(room))).body, { members_count: 2, description: '', unread_count: 1 })
})

t.test('to everyone else, staff included, it does not exist', async (t) => {
  const { ann, room } = await pair()
  const outsider = await register(server.url)
  const staff = await register(server.url)
  await makeStaff(server, staff)
  for (const who of [outsider, staff]) {
    const what = who === staff ? 'staff' : 'outsider'
    isError(t, await call(who, 'GET', path(room)), 404, 'not_found', `${what} GET`)
    isError(t, await call(who, 'GET', path(room, 'messages/')), 404, 'not_found', `${what} history`)
    isError(t, await call(who, 'POST', path(room, 'join/')), 404, 'not_found', `${what} join`)
    isError(t, await call(who, 'DELETE', path(room)), 404, 'not_found', `${what} DELETE`)
    isError(t, await call(who, 'POST', path(room, 'messages/'), { message: 'x' }), 404, 'not_found', `${what} send`)
    t.equal((await refusal(openSocket(server.wsUrl, room, { token: who.token }))).status, 404, `${what} socket`)
    const all = (await call(who, 'GET', '/api/chat/all-groups/?limit=100')).body.results
    t.notOk(all.some((r: any) => r.name === room), `${what}: not listed`)
  }
  t.equal((await call(ann, 'GET', path(room))).status, 200, 'still there for its members')
})

t.test('either member deletes it, for both; a later POST direct/ makes a new one', async (t) => {
  const { ann, ben, made, room } = await pair()
  const socket = await openSocket(server.wsUrl, room, { token: ann.token })
  t.equal((await call(ben, 'DELETE', path(room))).status, 204)
  t.equal((await socket.waitClose()).code, 4404, 'its sockets close with 4404')
  isError(t, await call(ann, 'GET', path(room)), 404, 'not_found', 'gone for both')
  const again = await direct(ann, ben.user.username)
  t.equal(again.status, 201)
  t.not(again.body.id, made.body.id, 'a new room')
})

t.test('both asking at once get one room', async (t) => {
  const ann = await register(server.url)
  const ben = await register(server.url)
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    i % 2 === 0 ? direct(ann, ben.user.username) : direct(ben, ann.user.username)))
  t.same([...new Set(answers.map((a) => a.body.id))].length, 1, 'one room id')
  t.equal(answers.filter((a) => a.status === 201).length, 1, 'made once')
  t.equal(answers.filter((a) => a.status === 200).length, 11)
})
