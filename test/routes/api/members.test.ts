import t from 'tap'
import { api, createRoom, join, register, uniqueName, type Account } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError, makeStaff } from '../../helpers/assertions.js'

// One server for the file: every subtest uses its own users and room names.
const server = await startServer(t)

// The assertions a helper needs; a subtest's `t` has them (it is not the root TAP type).

const USER_KEYS = ['first_name', 'id', 'last_name', 'username']

const call = (method: string, path: string, token?: string, body?: unknown) =>
  api(server.url, method, path, { token, body })
const members = (room: string, rest = '') => `/api/chat/groups/${room}/members/${rest}`

/** The member ids of a room, as its owner (or any member) sees them. */
async function memberIds (room: string, token: string): Promise<number[]> {
  const response = await call('GET', members(room), token)
  if (response.status !== 200) throw new Error(`members failed: ${response.status}`)
  return response.body.map((u: { id: number }) => u.id).sort((a: number, b: number) => a - b)
}
const ids = (...accounts: Account[]) => accounts.map((a) => a.user.id).sort((a, b) => a - b)

const add = (room: string, token: string, username: string) => call('POST', members(room), token, { username })
const remove = (room: string, token: string, username: string) => call('DELETE', members(room, `${username}/`), token)

t.test('a member gets 200 with the members as User objects, each with last_read_seq and online', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)
  const response = await call('GET', members(room.name), member.token)
  t.equal(response.status, 200)
  t.ok(Array.isArray(response.body), 'a plain array')
  for (const user of response.body) {
    t.same(Object.keys(user).sort(), [...USER_KEYS, 'last_read_seq', 'online'].sort(), 'exactly the Member fields')
  }
  const byId = new Map(response.body.map((u: { id: number }) => [u.id, u]))
  t.same(byId.get(owner.user.id), { ...owner.user, last_read_seq: 0, online: false }, 'the owner, as registered')
  t.same(byId.get(member.user.id), { ...member.user, last_read_seq: 0, online: false }, 'the member, as registered')
  t.equal(response.body.length, 2, 'nobody else')
})

t.test('members list: 403 for a non-member of a public room, 404 for an unknown room or a private one', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const open = await createRoom(server.url, owner.token)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await call('GET', members(open.name), stranger.token), 403, 'permission_denied', 'public, non-member')
  isError(t, await call('GET', members(uniqueName('never')), stranger.token), 404, 'not_found', 'unknown room')
  const hidden = await call('GET', members(secret.name), stranger.token)
  isError(t, hidden, 404, 'not_found', 'private, stranger')
  t.same(hidden.body, (await call('GET', members(uniqueName('never')), stranger.token)).body,
    'the same body as a room never created')
})

t.test('the owner adds a user: 201 User, and the user is a member', async (t) => {
  const owner = await register(server.url)
  const added = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const response = await add(room.name, owner.token, added.user.username)
  t.equal(response.status, 201)
  t.same(Object.keys(response.body).sort(), USER_KEYS, 'exactly the User fields')
  t.same(response.body, added.user, 'the added user')
  t.same(await memberIds(room.name, owner.token), ids(owner, added))
  t.equal((await call('GET', `/api/chat/groups/${room.name}/`, owner.token)).body.members_count, 2)
  t.equal((await call('GET', members(room.name), added.token)).status, 200, 'the added user may list members')
})

t.test('adding: 403 for a plain member, 404 unknown username, 409 already a member', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const other = await register(server.url)
  const outsider = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)

  isError(t, await add(room.name, member.token, other.user.username), 403, 'permission_denied', 'plain member')
  isError(t, await add(room.name, outsider.token, other.user.username), 403, 'permission_denied', 'non-member')
  isError(t, await add(room.name, outsider.token, outsider.user.username), 403, 'permission_denied', 'adding oneself')
  isError(t, await add(room.name, owner.token, uniqueName('ghost')), 404, 'not_found', 'unknown username')
  isError(t, await add(room.name, owner.token, member.user.username), 409, 'conflict', 'already a member')
  isError(t, await add(room.name, owner.token, owner.user.username), 409, 'conflict', 'the owner')
  t.same(await memberIds(room.name, owner.token), ids(owner, member), 'nobody was added')
  isError(t, await add(uniqueName('never'), owner.token, other.user.username), 404, 'not_found', 'unknown room')
})

t.test('adding rejects a malformed body with 400', async (t) => {
  const owner = await register(server.url)
  const other = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const bodies: unknown[] = [{}, { username: other.user.username, role: 'owner' }, { username: 7 }, { username: 'a b' }]
  for (const body of bodies) {
    isError(t, await call('POST', members(room.name), owner.token, body), 400, 'validation_error', JSON.stringify(body))
  }
  t.same(await memberIds(room.name, owner.token), ids(owner), 'nobody was added')
})

t.test('being added is the way into a private room', async (t) => {
  const owner = await register(server.url)
  const guest = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await call('GET', `/api/chat/groups/${secret.name}/`, guest.token), 404, 'not_found', 'before')
  isError(t, await call('POST', `/api/chat/groups/${secret.name}/join/`, guest.token), 404, 'not_found', 'join before')

  t.equal((await add(secret.name, owner.token, guest.user.username)).status, 201)
  const list = await call('GET', '/api/chat/groups/', guest.token)
  t.same(list.body.map((r: { name: string }) => r.name), [secret.name], 'listed in GET /groups/')
  const detail = await call('GET', `/api/chat/groups/${secret.name}/`, guest.token)
  t.equal(detail.status, 200, 'GET detail works')
  t.equal(detail.body.members_count, 2)
  t.same(await memberIds(secret.name, guest.token), ids(owner, guest), 'and the members list')
  const joinAgain = await call('POST', `/api/chat/groups/${secret.name}/join/`, guest.token)
  t.equal(joinAgain.status, 200, 'joining once inside is a no-op 200')
  t.equal(joinAgain.body.members_count, 2)
})

t.test('adding to a private room as a stranger answers 404', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await add(secret.name, stranger.token, stranger.user.username), 404, 'not_found')
  t.same(await memberIds(secret.name, owner.token), ids(owner))
})

t.test('the owner removes a member: 204, and they lose access', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)
  const response = await remove(room.name, owner.token, member.user.username)
  t.equal(response.status, 204)
  t.equal(response.body, null, 'no body')
  t.same(await memberIds(room.name, owner.token), ids(owner))
  isError(t, await call('GET', members(room.name), member.token), 403, 'permission_denied', 'the removed member')
  t.same((await call('GET', '/api/chat/groups/', member.token)).body, [], 'gone from their list')
})

t.test('anyone removes themself: 204; from a private room it then answers 404', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const guest = await register(server.url)
  const open = await createRoom(server.url, owner.token)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  await join(server.url, member.token, open.name)
  t.equal((await add(secret.name, owner.token, guest.user.username)).status, 201)

  t.equal((await remove(open.name, member.token, member.user.username)).status, 204, 'a plain member leaves a public room')
  t.same(await memberIds(open.name, owner.token), ids(owner))
  t.equal((await remove(secret.name, guest.token, guest.user.username)).status, 204, 'a guest leaves a private room')
  t.same(await memberIds(secret.name, owner.token), ids(owner))
  isError(t, await call('GET', `/api/chat/groups/${secret.name}/`, guest.token), 404, 'not_found', 'private, afterwards')
})

t.test('removing: 403 when a plain member removes someone else, 404 when the target is not a member', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const other = await register(server.url)
  const outsider = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)
  await join(server.url, other.token, room.name)

  isError(t, await remove(room.name, member.token, other.user.username), 403, 'permission_denied', 'member removes other')
  isError(t, await remove(room.name, member.token, owner.user.username), 403, 'permission_denied', 'member removes owner')
  t.same(await memberIds(room.name, owner.token), ids(owner, member, other), 'nobody was removed')

  isError(t, await remove(room.name, owner.token, outsider.user.username), 404, 'not_found', 'target not a member')
  isError(t, await remove(room.name, owner.token, uniqueName('ghost')), 404, 'not_found', 'unknown username')
  isError(t, await remove(room.name, outsider.token, outsider.user.username), 404, 'not_found', 'oneself, not a member')
  t.equal((await remove(room.name, owner.token, member.user.username)).status, 204)
  isError(t, await remove(room.name, owner.token, member.user.username), 404, 'not_found', 'removed twice')
  isError(t, await remove(uniqueName('never'), owner.token, member.user.username), 404, 'not_found', 'unknown room')
})

t.test('removing someone from a private room as a stranger answers 404', async (t) => {
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  isError(t, await remove(secret.name, stranger.token, owner.user.username), 404, 'not_found')
  t.same(await memberIds(secret.name, owner.token), ids(owner))
})

// docs/api.md: when an owner leaves, the room passes to the longest-standing member left.
t.test('when the owner leaves, the longest-standing remaining member becomes owner', async (t) => {
  const owner = await register(server.url)
  const later = await register(server.url)
  const earlier = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  // `earlier` registered after `later` but joins first: seniority is by joining, not by account.
  await join(server.url, earlier.token, room.name)
  // A registration (a password hash) between the joins keeps their joined_at apart at millisecond precision.
  const newcomer = await register(server.url)
  await join(server.url, later.token, room.name)

  t.equal((await call('POST', `/api/chat/groups/${room.name}/leave/`, owner.token)).status, 204)
  const patched = await call('PATCH', `/api/chat/groups/${room.name}/`, earlier.token, { description: 'mine now' })
  t.equal(patched.status, 200, 'the longest-standing member may PATCH')
  t.equal(patched.body.members_count, 2)
  isError(t, await call('PATCH', `/api/chat/groups/${room.name}/`, later.token, { description: 'no' }), 403,
    'permission_denied', 'the other member')
  isError(t, await call('PATCH', `/api/chat/groups/${room.name}/`, owner.token, { description: 'no' }), 403,
    'permission_denied', 'the former owner')
  t.equal((await add(room.name, earlier.token, newcomer.user.username)).status, 201, 'the new owner adds members')
  t.equal((await remove(room.name, earlier.token, later.user.username)).status, 204, 'and removes them')
  t.same(await memberIds(room.name, earlier.token), ids(earlier, newcomer))
})

t.test('an owner removing themself through members hands the room over the same way', async (t) => {
  const owner = await register(server.url)
  const heir = await register(server.url)
  const other = await register(server.url)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  t.equal((await add(secret.name, owner.token, heir.user.username)).status, 201)
  t.equal((await add(secret.name, owner.token, other.user.username)).status, 201)

  t.equal((await remove(secret.name, owner.token, owner.user.username)).status, 204)
  isError(t, await call('GET', `/api/chat/groups/${secret.name}/`, owner.token), 404, 'not_found', 'the former owner')
  const patched = await call('PATCH', `/api/chat/groups/${secret.name}/`, heir.token, { description: 'heir' })
  t.equal(patched.status, 200, 'the first member added is the new owner')
  isError(t, await remove(secret.name, other.token, heir.user.username), 403, 'permission_denied', 'the other member')
  t.equal((await remove(secret.name, heir.token, other.user.username)).status, 204, 'the new owner removes members')
})

t.test('staff add and remove members of a room they are not in', async (t) => {
  const owner = await register(server.url)
  const staff = await register(server.url)
  const guest = await register(server.url)
  await makeStaff(server, staff)
  const secret = await createRoom(server.url, owner.token, { is_private: true })

  const added = await add(secret.name, staff.token, guest.user.username)
  t.equal(added.status, 201, 'staff add to a private room')
  t.same(added.body, guest.user)
  t.same(await memberIds(secret.name, owner.token), ids(owner, guest), 'staff did not become a member')
  t.equal((await call('GET', `/api/chat/groups/${secret.name}/`, guest.token)).status, 200, 'the guest is in')
  // Staff see a private room (no 404), but listing members still needs membership.
  isError(t, await call('GET', members(secret.name), staff.token), 403, 'permission_denied', 'staff members list')

  t.equal((await remove(secret.name, staff.token, guest.user.username)).status, 204, 'staff remove a member')
  t.same(await memberIds(secret.name, owner.token), ids(owner))
  isError(t, await add(secret.name, staff.token, owner.user.username), 409, 'conflict', 'staff add the owner')
})

t.test('members routes answer without their trailing slash', async (t) => {
  const owner = await register(server.url)
  const guest = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const base = `/api/chat/groups/${room.name}/members`
  const added = await call('POST', base, owner.token, { username: guest.user.username })
  t.equal(added.status, 201, 'POST members')
  const list = await call('GET', base, owner.token)
  t.equal(list.status, 200, 'GET members')
  t.equal(list.body.length, 2)
  t.equal((await call('DELETE', `${base}/${guest.user.username}`, owner.token)).status, 204, 'DELETE member')
  t.same(await memberIds(room.name, owner.token), ids(owner))
})

t.test('members routes answer 401 without a token, with and without their trailing slash', async (t) => {
  const owner = await register(server.url)
  const member = await register(server.url)
  const outsider = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)
  const requests: Array<[string, string, unknown?]> = [
    ['GET', members(room.name)],
    ['POST', members(room.name), { username: outsider.user.username }],
    ['DELETE', members(room.name, `${member.user.username}/`)]
  ]
  for (const [method, path, body] of requests) {
    for (const url of [path, path.slice(0, -1)]) {
      isError(t, await call(method, url, undefined, body), 401, 'not_authenticated', `${method} ${url}`)
    }
  }
  t.same(await memberIds(room.name, owner.token), ids(owner, member), 'nobody was added or removed')
})
