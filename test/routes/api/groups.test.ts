import t, { type Test } from 'tap'
import {
  api, createRoom, join, openSocket, refusal, register, uniqueName
} from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError, makeStaff } from '../../helpers/assertions.js'

// One server for the file: every subtest uses its own users and room names.
const server = await startServer(t)

// The assertions a helper needs; a subtest's `t` has them (it is not the root TAP type).

// 0.1's fields, and 0.2's read state, last message, rev and direct-room fields.
const ROOM_KEYS = ['created_at', 'description', 'id', 'is_direct', 'is_private', 'last_message', 'last_read_seq', 'members_count',
  'name', 'peer', 'rev', 'room_avatar', 'unread_count', 'unread_mentions', 'updated_at']
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

const call = (method: string, path: string, token?: string, body?: unknown) =>
  api(server.url, method, path, { token, body })
const room = (name: string, rest = '') => `/api/chat/groups/${name}/${rest}`

/** A Room object: exactly the API's fields, timestamps in ISO-8601 UTC. */
function isRoom (t: Test, body: any, expected: Record<string, unknown> = {}) {
  t.same(Object.keys(body ?? {}).sort(), ROOM_KEYS, 'exactly the Room fields')
  t.type(body.id, 'number')
  t.type(body.description, 'string')
  t.type(body.is_private, 'boolean')
  t.type(body.members_count, 'number')
  t.ok(body.room_avatar === null || typeof body.room_avatar === 'string', 'room_avatar is a string or null')
  for (const key of ['created_at', 'updated_at']) {
    t.match(body[key], ISO_UTC, `${key} is ISO-8601 UTC`)
    t.notOk(Number.isNaN(Date.parse(body[key])), `${key} parses`)
  }
  for (const [key, value] of Object.entries(expected)) t.same(body[key], value, key)
}

const joinedNames = async (token: string): Promise<string[]> => {
  const response = await call('GET', '/api/chat/groups/', token)
  if (response.status !== 200) throw new Error(`list failed: ${response.status}`)
  return response.body.map((r: { name: string }) => r.name)
}

t.test('creating a room answers 201 Room; the caller is its owner and first member', async (t) => {
  const owner = await register(server.url)
  const name = uniqueName('create')
  const response = await call('POST', '/api/chat/groups/', owner.token, {
    name, description: 'Second years', room_avatar: 'https://example.com/a.png', is_private: false
  })
  t.equal(response.status, 201)
  isRoom(t, response.body, {
    name, description: 'Second years', room_avatar: 'https://example.com/a.png', is_private: false, members_count: 1
  })
  t.equal(response.body.created_at, response.body.updated_at, 'a new room was never updated')

  const detail = await call('GET', room(name), owner.token)
  t.equal(detail.status, 200)
  t.same(detail.body, response.body, 'GET detail answers the same Room')

  const members = await call('GET', room(name, 'members/'), owner.token)
  t.same(members.body.map((u: { id: number }) => u.id), [owner.user.id], 'the creator is the only member')
  const patch = await call('PATCH', room(name), owner.token, { description: 'mine' })
  t.equal(patch.status, 200, 'the creator owns it: PATCH allowed')
})

t.test('a room created with a name only has empty description, null avatar and is public', async (t) => {
  const owner = await register(server.url)
  const name = uniqueName('defaults')
  const response = await call('POST', '/api/chat/groups', owner.token, { name })
  t.equal(response.status, 201)
  isRoom(t, response.body, { name, description: '', room_avatar: null, is_private: false, members_count: 1 })
})

t.test('GET /groups/ is a plain array of exactly the rooms the caller joined', async (t) => {
  const alice = await register(server.url)
  const bob = await register(server.url)
  t.same((await call('GET', '/api/chat/groups/', alice.token)).body, [], 'a new user has joined nothing')

  const mine = await createRoom(server.url, alice.token)
  const theirs = await createRoom(server.url, bob.token)
  const hidden = await createRoom(server.url, bob.token, { is_private: true })
  const list = await call('GET', '/api/chat/groups/', alice.token)
  t.equal(list.status, 200)
  t.ok(Array.isArray(list.body), 'a plain array, not a page')
  t.same(list.body.map((r: { name: string }) => r.name), [mine.name])
  isRoom(t, list.body[0], { id: mine.id, members_count: 1, is_private: false })

  await join(server.url, alice.token, theirs.name)
  const names = await joinedNames(alice.token)
  t.same(names.sort(), [mine.name, theirs.name].sort(), 'a joined room is listed too')
  t.notOk(names.includes(hidden.name), "another user's private room is not listed")
  t.same((await joinedNames(bob.token)).sort(), [theirs.name, hidden.name].sort(), 'the owner lists their private room')
})

t.test('a taken name answers 409 conflict, a private one too', async (t) => {
  const alice = await register(server.url)
  const bob = await register(server.url)
  const open = await createRoom(server.url, alice.token)
  const secret = await createRoom(server.url, alice.token, { is_private: true })
  isError(t, await call('POST', '/api/chat/groups/', bob.token, { name: open.name }), 409, 'conflict', 'public name')
  isError(t, await call('POST', '/api/chat/groups/', bob.token, { name: secret.name }), 409, 'conflict', 'private name')
  isError(t, await call('POST', '/api/chat/groups/', alice.token, { name: open.name }), 409, 'conflict', 'own name')
  const detail = await call('GET', room(open.name), alice.token)
  t.equal(detail.body.members_count, 1, 'the existing room is untouched')
  t.same(await joinedNames(bob.token), [], 'the refused creator joined nothing')
})

t.test('bad room names answer 400 validation_error on /name and create nothing', async (t) => {
  const owner = await register(server.url)
  const cases: Array<[string, unknown]> = [
    ['empty', ''],
    ['101 characters', uniqueName('long').padEnd(101, 'x')],
    ['a space', 'two words'],
    ['a slash', 'a/b'],
    ['unicode', 'café'],
    ['a number', 42],
    ['null', null]
  ]
  for (const [what, name] of cases) {
    const response = await call('POST', '/api/chat/groups/', owner.token, { name })
    isError(t, response, 400, 'validation_error', what)
    t.ok(response.body.errors.some((e: { field: string }) => e.field === '/name'), `${what}: names /name`)
  }
  const missing = await call('POST', '/api/chat/groups/', owner.token, { description: 'no name' })
  isError(t, missing, 400, 'validation_error', 'missing')
  t.same(await joinedNames(owner.token), [], 'no room was created')
})

t.test('names of 1 and 100 characters of A-Z a-z 0-9 _ - . are accepted', async (t) => {
  const owner = await register(server.url)
  const long = `Az09_-.${uniqueName('max')}`.padEnd(100, 'x')
  const response = await call('POST', '/api/chat/groups/', owner.token, { name: long })
  t.equal(response.status, 201, '100 characters with every allowed kind')
  t.equal(response.body.name, long)
  t.equal((await call('GET', room(long), owner.token)).status, 200, 'and found by that name')
  // A one-character name cannot be unique per run: a 409 from an earlier run still proves it passed validation.
  const short = await call('POST', '/api/chat/groups/', owner.token, { name: 'Q' })
  t.ok([201, 409].includes(short.status), `1 character accepted (${short.status})`)
})

t.test('unknown fields in the create body answer 400 and create nothing', async (t) => {
  const owner = await register(server.url)
  for (const extra of [{ owner: 1 }, { members_count: 5 }, { id: 7 }]) {
    const name = uniqueName('extra')
    isError(t, await call('POST', '/api/chat/groups/', owner.token, { name, ...extra }), 400, 'validation_error',
      Object.keys(extra)[0])
    isError(t, await call('GET', room(name), owner.token), 404, 'not_found', 'the room')
  }
})

t.test('room_avatar must be an http(s) URL or null', async (t) => {
  const owner = await register(server.url)
  for (const avatar of ['ftp://example.com/a.png', 'not a url', 'javascript:alert(1)', '/relative.png', 12]) {
    const response = await call('POST', '/api/chat/groups/', owner.token, { name: uniqueName('av'), room_avatar: avatar })
    isError(t, response, 400, 'validation_error', `create with ${String(avatar)}`)
    t.ok(response.body.errors.some((e: { field: string }) => e.field === '/room_avatar'), 'names /room_avatar')
  }
  const http = await call('POST', '/api/chat/groups/', owner.token,
    { name: uniqueName('av'), room_avatar: 'http://x.test/a' })
  t.equal(http.status, 201, 'http is accepted')
  t.equal(http.body.room_avatar, 'http://x.test/a')
  const none = await call('POST', '/api/chat/groups/', owner.token, { name: uniqueName('av'), room_avatar: null })
  t.equal(none.status, 201, 'null is accepted')
  t.equal(none.body.room_avatar, null)

  isError(t, await call('PATCH', room(http.body.name), owner.token, { room_avatar: 'ftp://x.test/a' }), 400,
    'validation_error', 'PATCH with ftp')
  const cleared = await call('PATCH', room(http.body.name), owner.token, { room_avatar: null })
  t.equal(cleared.status, 200)
  t.equal(cleared.body.room_avatar, null, 'PATCH null clears the avatar')
})

t.test('GET detail answers 404 not_found for a name never created', async (t) => {
  const user = await register(server.url)
  isError(t, await call('GET', room(uniqueName('never')), user.token), 404, 'not_found')
})

t.test('a private room does not leak: every room route answers a stranger exactly as for a name never created',
  async (t) => {
    const owner = await register(server.url)
    const stranger = await register(server.url)
    const secret = await createRoom(server.url, owner.token, { is_private: true, description: 'secret' })
    const never = uniqueName('never')
    const requests: Array<[string, string, unknown?]> = [
      ['GET', ''],
      ['PATCH', '', { description: 'hacked' }],
      ['DELETE', ''],
      ['GET', 'members/'],
      ['POST', 'members/', { username: stranger.user.username }],
      ['DELETE', `members/${owner.user.username}/`],
      ['DELETE', `members/${stranger.user.username}/`],
      ['POST', 'join/'],
      ['POST', 'leave/'],
      ['GET', 'messages/']
    ]
    for (const [method, rest, body] of requests) {
      const unknown = await call(method, room(never, rest), stranger.token, body)
      const hidden = await call(method, room(secret.name, rest), stranger.token, body)
      isError(t, hidden, 404, 'not_found', `${method} ${rest || 'detail'}`)
      t.same(hidden.body, unknown.body, `${method} ${rest || 'detail'}: same body as a name never created`)
    }
    const socketUnknown = await refusal(openSocket(server.wsUrl, never, { token: stranger.token }))
    const socketHidden = await refusal(openSocket(server.wsUrl, secret.name, { token: stranger.token }))
    t.equal(socketHidden.status, 404, 'socket handshake 404')
    t.same(socketHidden.body, socketUnknown.body, 'socket: same body as a name never created')

    const after = await call('GET', room(secret.name), owner.token)
    isRoom(t, after.body, { description: 'secret', members_count: 1, is_private: true })
    t.same(await joinedNames(stranger.token), [], 'the stranger got in nowhere')
  })

t.test('PATCH by the owner changes description, avatar and privacy and answers 200 Room', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const created = await createRoom(server.url, owner.token, { description: 'before' })
  const response = await call('PATCH', room(created.name), owner.token, {
    description: 'after', room_avatar: 'https://example.com/b.png', is_private: true
  })
  t.equal(response.status, 200)
  isRoom(t, response.body, {
    id: created.id,
    name: created.name,
    description: 'after',
    room_avatar: 'https://example.com/b.png',
    is_private: true,
    members_count: 1
  })
  t.ok(Date.parse(response.body.updated_at) >= Date.parse(response.body.created_at), 'updated_at is not before created_at')
  t.same((await call('GET', room(created.name), owner.token)).body, response.body, 'the change is stored')
  isError(t, await call('GET', room(created.name), stranger.token), 404, 'not_found', 'now private: a stranger')

  const reopened = await call('PATCH', room(created.name), owner.token, { is_private: false })
  t.equal(reopened.body.is_private, false)
  t.equal(reopened.body.description, 'after', 'fields left out keep their value')
  t.equal((await call('GET', room(created.name), stranger.token)).status, 200, 'public again: a stranger sees it')
})

t.test('PATCH by a member who is not the owner answers 403 permission_denied and changes nothing', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const outsider = await register(server.url)
  const created = await createRoom(server.url, owner.token, { description: 'kept' })
  await join(server.url, member.token, created.name)
  isError(t, await call('PATCH', room(created.name), member.token, { description: 'taken over' }), 403, 'permission_denied',
    'member')
  isError(t, await call('PATCH', room(created.name), outsider.token, { description: 'taken over' }), 403,
    'permission_denied', 'public room, non-member')
  t.equal((await call('GET', room(created.name), owner.token)).body.description, 'kept')
})

t.test('PATCH of a private room by a stranger answers 404', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await call('PATCH', room(secret.name), stranger.token, { is_private: false }), 404, 'not_found')
  t.equal((await call('GET', room(secret.name), owner.token)).body.is_private, true, 'still private')
})

t.test('PATCH rejects unknown fields with 400, renaming included', async (t) => {
  const owner = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  for (const body of [{ name: uniqueName('renamed') }, { members_count: 9 }, { owner: 'someone' }]) {
    const what = Object.keys(body)[0]
    isError(t, await call('PATCH', room(created.name), owner.token, body), 400, 'validation_error', what)
  }
  const detail = await call('GET', room(created.name), owner.token)
  t.equal(detail.body.name, created.name, 'the name did not change')
  t.equal(detail.body.members_count, 1)
  isError(t, await call('PATCH', room(created.name), owner.token, { is_private: 'yes' }), 400, 'validation_error',
    'is_private not a boolean')
})

t.test('DELETE: a member gets 403; the owner gets 204, the room is gone and its name can be reused', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  await join(server.url, member.token, created.name)

  isError(t, await call('DELETE', room(created.name), member.token), 403, 'permission_denied', 'member')
  t.equal((await call('GET', room(created.name), member.token)).status, 200, 'still there after the refusal')

  const deleted = await call('DELETE', room(created.name), owner.token)
  t.equal(deleted.status, 204)
  t.equal(deleted.body, null, 'no body')
  isError(t, await call('GET', room(created.name), owner.token), 404, 'not_found', 'afterwards')
  isError(t, await call('DELETE', room(created.name), owner.token), 404, 'not_found', 'deleting again')
  t.notOk((await joinedNames(owner.token)).includes(created.name), "gone from the owner's list")
  t.notOk((await joinedNames(member.token)).includes(created.name), "gone from the member's list")

  const reused = await call('POST', '/api/chat/groups/', member.token, { name: created.name })
  t.equal(reused.status, 201, 'the name is free again')
  t.not(reused.body.id, created.id, 'a new room')
  t.equal(reused.body.members_count, 1, 'with none of the old members')
})

t.test('join answers 200 Room with one more member; joining twice changes nothing', async (t) => {
  const owner = await register(server.url)
  const joiner = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  const first = await call('POST', room(created.name, 'join/'), joiner.token)
  t.equal(first.status, 200)
  isRoom(t, first.body, { id: created.id, name: created.name, members_count: 2 })
  t.ok((await joinedNames(joiner.token)).includes(created.name), 'listed in GET /groups/')

  const again = await call('POST', room(created.name, 'join/'), joiner.token)
  t.equal(again.status, 200, 'joining twice is a no-op 200')
  t.equal(again.body.members_count, 2, 'members_count did not change')
  const ownerJoin = await call('POST', room(created.name, 'join/'), owner.token)
  t.equal(ownerJoin.status, 200, 'the owner joining is a no-op too')
  t.equal(ownerJoin.body.members_count, 2)
  t.equal((await call('GET', room(created.name), owner.token)).body.members_count, 2)
})

t.test('join answers 404 for an unknown room and for a private room to a stranger', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await call('POST', room(uniqueName('never'), 'join/'), stranger.token), 404, 'not_found', 'unknown')
  isError(t, await call('POST', room(secret.name, 'join/'), stranger.token), 404, 'not_found', 'private')
  t.equal((await call('GET', room(secret.name), owner.token)).body.members_count, 1, 'nobody got in')
})

t.test('leave answers 204; a public room then refuses members and messages with 403', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  await join(server.url, member.token, created.name)
  t.equal((await call('GET', room(created.name, 'members/'), member.token)).status, 200, 'a member before leaving')

  const left = await call('POST', room(created.name, 'leave/'), member.token)
  t.equal(left.status, 204)
  t.equal(left.body, null, 'no body')
  isError(t, await call('GET', room(created.name, 'members/'), member.token), 403, 'permission_denied', 'members')
  isError(t, await call('GET', room(created.name, 'messages/'), member.token), 403, 'permission_denied', 'messages')
  t.notOk((await joinedNames(member.token)).includes(created.name), 'no longer listed')
  const detail = await call('GET', room(created.name), member.token)
  t.equal(detail.status, 200, 'a public room is still visible')
  t.equal(detail.body.members_count, 1, 'members_count went down')
})

t.test('leaving a room one is not in is a no-op 204', async (t) => {
  const owner = await register(server.url)
  const outsider = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  t.equal((await call('POST', room(created.name, 'leave/'), outsider.token)).status, 204)
  t.equal((await call('GET', room(created.name), owner.token)).body.members_count, 1, 'nobody was removed')
  isError(t, await call('POST', room(uniqueName('never'), 'leave/'), outsider.token), 404, 'not_found', 'unknown room')
})

t.test('after leaving a private room it answers 404', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  t.equal((await call('POST', room(secret.name, 'members/'), owner.token, { username: member.user.username })).status, 201)
  t.equal((await call('GET', room(secret.name), member.token)).status, 200, 'visible while a member')

  t.equal((await call('POST', room(secret.name, 'leave/'), member.token)).status, 204)
  isError(t, await call('GET', room(secret.name), member.token), 404, 'not_found', 'detail')
  isError(t, await call('GET', room(secret.name, 'members/'), member.token), 404, 'not_found', 'members')
  isError(t, await call('POST', room(secret.name, 'join/'), member.token), 404, 'not_found', 'join back')
})

t.test('staff see, change and delete any room, but join a private one only by being added', async (t) => {
  const owner = await register(server.url)
  const staff = await register(server.url)
  await makeStaff(server, staff)
  const secret = await createRoom(server.url, owner.token, { is_private: true, description: 'secret' })

  const detail = await call('GET', room(secret.name), staff.token)
  t.equal(detail.status, 200, 'staff see a private room they are not in')
  isRoom(t, detail.body, { name: secret.name, is_private: true, members_count: 1 })

  const patched = await call('PATCH', room(secret.name), staff.token, { description: 'moderated' })
  t.equal(patched.status, 200, 'staff PATCH a room they do not own')
  t.equal(patched.body.description, 'moderated')

  isError(t, await call('POST', room(secret.name, 'join/'), staff.token), 403, 'permission_denied', 'staff join private')
  t.equal((await call('GET', room(secret.name), owner.token)).body.members_count, 1, 'staff did not get in')

  const open = await createRoom(server.url, owner.token)
  const joined = await call('POST', room(open.name, 'join/'), staff.token)
  t.equal(joined.status, 200, 'staff join a public room like anyone')
  t.equal(joined.body.members_count, 2)

  t.equal((await call('DELETE', room(secret.name), staff.token)).status, 204, 'staff DELETE a private room')
  t.equal((await call('DELETE', room(open.name), staff.token)).status, 204, 'staff DELETE a public room')
  isError(t, await call('GET', room(secret.name), owner.token), 404, 'not_found', 'deleted by staff')
  isError(t, await call('GET', room(open.name), owner.token), 404, 'not_found', 'deleted by staff')
})

t.test('every room route answers without its trailing slash', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const list = await call('GET', '/api/chat/groups', owner.token)
  t.equal(list.status, 200, 'GET /api/chat/groups')
  t.ok(Array.isArray(list.body))
  const name = uniqueName('slash')
  const created = await call('POST', '/api/chat/groups', owner.token, { name })
  t.equal(created.status, 201, 'POST /api/chat/groups')
  const base = `/api/chat/groups/${name}`
  t.equal((await call('GET', base, owner.token)).body.name, name, 'GET detail')
  t.equal((await call('PATCH', base, owner.token, { description: 'x' })).body.description, 'x', 'PATCH')
  t.equal((await call('POST', `${base}/join`, member.token)).body.members_count, 2, 'join')
  t.equal((await call('POST', `${base}/leave`, member.token)).status, 204, 'leave')
  t.equal((await call('GET', base, owner.token)).body.members_count, 1, 'left')
  t.equal((await call('DELETE', base, owner.token)).status, 204, 'DELETE')
  t.equal((await call('GET', base, owner.token)).status, 404, 'deleted')
})

t.test('every room route answers 401 without a token, with and without its trailing slash', async (t) => {
  const owner = await register(server.url)
  const created = await createRoom(server.url, owner.token)
  const requests: Array<[string, string, unknown?]> = [
    ['GET', '/api/chat/groups/'],
    ['POST', '/api/chat/groups/', { name: uniqueName('anon') }],
    ['GET', room(created.name)],
    ['PATCH', room(created.name), { description: 'anon' }],
    ['DELETE', room(created.name)],
    ['POST', room(created.name, 'join/')],
    ['POST', room(created.name, 'leave/')]
  ]
  for (const [method, path, body] of requests) {
    for (const url of [path, path.slice(0, -1)]) {
      isError(t, await call(method, url, undefined, body), 401, 'not_authenticated', `${method} ${url}`)
    }
  }
  const badToken = await api(server.url, 'GET', room(created.name),
    { headers: { authorization: `Token ${'0'.repeat(40)}` } })
  isError(t, badToken, 401, 'authentication_failed', 'unknown token')
  const detail = await call('GET', room(created.name), owner.token)
  isRoom(t, detail.body, { description: '', members_count: 1 })
  t.same(await joinedNames(owner.token), [created.name], 'no room was created or joined anonymously')
})
