import t from 'tap'
import {
  api, createRoom, join, openSocket, register, uniqueName, type Account, type ApiResponse
} from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError, makeStaff } from '../../helpers/assertions.js'

// One server for the file. Subtests share its database, so each one searches for its own unique name prefix.
const server = await startServer(t)

// The assertions a helper needs; a subtest's `t` has them (it is not the root TAP type).

const ITEM_KEYS = ['created_at', 'description', 'id', 'is_direct', 'is_member', 'is_private', 'last_message', 'last_read_seq',
  'members_count', 'name', 'peer', 'rev', 'room_avatar', 'unread_count', 'unread_mentions', 'updated_at']
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

/** GET all-groups with these query parameters; `path` lets a test follow a `next`/`previous` URL as given. */
const allGroups = (token: string | undefined, query: Record<string, string | number> = {},
  path = '/api/chat/all-groups/') => {
  const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))
  const search = params.toString()
  return api(server.url, 'GET', search === '' ? path : `${path}?${search}`, { token })
}
const follow = (token: string, url: string) => api(server.url, 'GET', url, { token })
const names = (response: ApiResponse): string[] => response.body.results.map((r: { name: string }) => r.name)

/** Creates rooms with these names, in this order, as `account`. */
async function rooms (account: Account, list: string[], fields: Record<string, unknown> = {}) {
  for (const name of list) await createRoom(server.url, account.token, { name, ...fields })
}

t.test('a page is {next, previous, results}; each result is a Room plus is_member', async (t) => {
  const owner = await register(server.url)
  const viewer = await register(server.url)
  const prefix = uniqueName('shape')
  const created = await createRoom(server.url, owner.token, {
    name: `${prefix}-a`, description: 'first', room_avatar: 'https://example.com/a.png'
  })
  const response = await allGroups(viewer.token, { search: prefix })
  t.equal(response.status, 200)
  t.same(Object.keys(response.body).sort(), ['next', 'previous', 'results'])
  t.equal(response.body.next, null, 'one page: no next')
  t.equal(response.body.previous, null, 'first page: no previous')
  t.equal(response.body.results.length, 1)
  const item = response.body.results[0]
  t.same(Object.keys(item).sort(), ITEM_KEYS, 'exactly the Room fields and is_member')
  t.match(item, {
    id: created.id,
    name: `${prefix}-a`,
    description: 'first',
    room_avatar: 'https://example.com/a.png',
    is_private: false,
    members_count: 1,
    is_member: false
  })
  t.match(item.created_at, ISO_UTC, 'created_at is ISO-8601 UTC')
  t.match(item.updated_at, ISO_UTC, 'updated_at is ISO-8601 UTC')
  const detail = await api(server.url, 'GET', `/api/chat/groups/${created.name}/`, { token: viewer.token })
  t.same({ ...detail.body, is_member: false }, item, 'the same Room as the detail route')
  t.equal((await allGroups(owner.token, { search: prefix })).body.results[0].is_member, true, 'the owner is a member')
})

t.test('lists every public room and the private rooms the caller is in, never a private room of others', async (t) => {
  const alice = await register(server.url)
  const bob = await register(server.url)
  const carol = await register(server.url)
  const p = uniqueName('vis')
  await rooms(alice, [`${p}-a`])
  await rooms(alice, [`${p}-b`], { is_private: true })
  await rooms(bob, [`${p}-c`], { is_private: true })
  await rooms(bob, [`${p}-d`], { is_private: true })
  t.equal((await api(server.url, 'POST', `/api/chat/groups/${p}-d/members/`, {
    token: bob.token, body: { username: alice.user.username }
  })).status, 201)

  const seen = async (account: Account) => (await allGroups(account.token, { search: p })).body.results
    .map((r: { name: string, is_member: boolean }) => [r.name, r.is_member])
  t.same(await seen(alice), [[`${p}-a`, true], [`${p}-b`, true], [`${p}-d`, true]], 'alice: not bob\'s c')
  t.same(await seen(bob), [[`${p}-a`, false], [`${p}-c`, true], [`${p}-d`, true]], 'bob: not alice\'s b')
  t.same(await seen(carol), [[`${p}-a`, false]], 'carol: the public room only')
})

t.test('staff see every room, private rooms of others included', async (t) => {
  const owner = await register(server.url)
  const staff = await register(server.url)
  await makeStaff(server, staff)
  const p = uniqueName('staff')
  await rooms(owner, [`${p}-a`])
  await rooms(owner, [`${p}-b`], { is_private: true })
  const results = (await allGroups(staff.token, { search: p })).body.results
  t.same(results.map((r: { name: string, is_member: boolean, is_private: boolean }) => [r.name, r.is_private, r.is_member]),
    [[`${p}-a`, false, false], [`${p}-b`, true, false]])
})

t.test('is_member follows join and leave; a deleted room is no longer listed', async (t) => {
  const owner = await register(server.url)
  const viewer = await register(server.url)
  const p = uniqueName('member')
  await rooms(owner, [`${p}-a`])
  const isMember = async () => (await allGroups(viewer.token, { search: p })).body.results[0]?.is_member
  t.equal(await isMember(), false, 'before joining')
  await join(server.url, viewer.token, `${p}-a`)
  t.equal(await isMember(), true, 'after joining')
  t.equal((await api(server.url, 'POST', `/api/chat/groups/${p}-a/leave/`, { token: viewer.token })).status, 204)
  t.equal(await isMember(), false, 'after leaving')
  t.equal((await api(server.url, 'DELETE', `/api/chat/groups/${p}-a/`, { token: owner.token })).status, 204)
  t.same((await allGroups(viewer.token, { search: p })).body.results, [], 'deleted')
})

t.test('search is a case-insensitive substring match on the name', async (t) => {
  const owner = await register(server.url)
  const p = uniqueName('ci')
  await rooms(owner, [`${p}-MiXeD`, `${p}-plain`])
  t.same(names(await allGroups(owner.token, { search: `${p}-mixed` })), [`${p}-MiXeD`], 'lower case finds mixed case')
  t.same(names(await allGroups(owner.token, { search: `${p}-PLAIN`.toUpperCase() })), [`${p}-plain`],
    'upper case finds lower case')
  // The middle of the unique part: a substring, not a prefix.
  const middle = p.slice(4, 10).toUpperCase()
  t.same(names(await allGroups(owner.token, { search: middle })).sort(), [`${p}-MiXeD`, `${p}-plain`].sort(),
    'a substring from the middle')
  t.same(names(await allGroups(owner.token, { search: `${p}-none` })), [], 'no match: empty results')
})

t.test('search takes % and _ literally', async (t) => {
  const owner = await register(server.url)
  const p = uniqueName('lit')
  await rooms(owner, [`${p}_x1`, `${p}ax1`])
  t.same(names(await allGroups(owner.token, { search: `${p}_x` })), [`${p}_x1`], '_ matches only an underscore')
  t.same(names(await allGroups(owner.token, { search: `${p}%` })), [], '% matches only a percent sign')
  const percent = await allGroups(owner.token, { search: '%' })
  t.equal(percent.status, 200)
  t.same(percent.body.results, [], 'no room name holds a %')
  const backslash = await allGroups(owner.token, { search: `${p}\\` })
  t.equal(backslash.status, 200, 'a backslash is no error')
  t.same(backslash.body.results, [])
})

t.test('limit walks to the end with no duplicate or gap, and previous walks back to the first page', async (t) => {
  const owner = await register(server.url)
  const other = await register(server.url)
  const p = uniqueName('page')
  const expected = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((s) => `${p}-${s}`)
  // Created out of order: the list is by name, not by creation.
  await rooms(owner, [expected[4]!, expected[0]!, expected[6]!, expected[2]!, expected[1]!, expected[5]!, expected[3]!])
  await rooms(other, [`${p}-cc`], { is_private: true })

  const first = await allGroups(owner.token, { search: p, limit: 3 })
  t.same(names(first), expected.slice(0, 3))
  t.equal(first.body.previous, null, 'the first page has no previous')
  const second = await follow(owner.token, first.body.next)
  t.same(names(second), expected.slice(3, 6))
  const third = await follow(owner.token, second.body.next)
  t.same(names(third), expected.slice(6))
  t.equal(third.body.next, null, 'the last page has no next')

  const backSecond = await follow(owner.token, third.body.previous)
  t.same(names(backSecond), expected.slice(3, 6), 'previous from the last page is the second page')
  const backFirst = await follow(owner.token, backSecond.body.previous)
  t.same(names(backFirst), expected.slice(0, 3), 'and back to the first page')
  t.equal(backFirst.body.previous, null, 'which again has no previous')
  t.same(names(await follow(owner.token, backFirst.body.next)), expected.slice(3, 6), 'and forward again')

  for (const limit of [1, 2, 7]) {
    const walked: string[] = []
    let page = await allGroups(owner.token, { search: p, limit })
    for (let i = 0; i < 10; i++) {
      t.ok(page.body.results.length <= limit, `limit ${limit}: page within the limit`)
      walked.push(...names(page))
      if (page.body.next === null) break
      page = await follow(owner.token, page.body.next)
    }
    t.same(walked, expected, `limit ${limit}: every room once, in order`)
  }
  const whole = await allGroups(owner.token, { search: p })
  t.same(names(whole), expected, 'the default limit holds them all')
  t.equal(whole.body.next, null)
})

t.test('next and previous are absolute http URLs that keep search and limit', async (t) => {
  const owner = await register(server.url)
  const p = uniqueName('links')
  await rooms(owner, [`${p}-a`, `${p}-b`, `${p}-c`])
  const first = await allGroups(owner.token, { search: p, limit: 1 })
  const second = await follow(owner.token, first.body.next)
  for (const [what, link] of [['next', first.body.next], ['next', second.body.next], ['previous', second.body.previous]]) {
    t.type(link, 'string', `${what} is a string`)
    const url = new URL(link)
    t.equal(url.protocol, 'http:', `${what} is an http URL`)
    t.equal(url.host, new URL(server.url).host, `${what} names this server`)
    t.equal(url.pathname, '/api/chat/all-groups/', `${what} is the all-groups route`)
    t.equal(url.searchParams.get('search'), p, `${what} keeps search`)
    t.equal(url.searchParams.get('limit'), '1', `${what} keeps limit`)
    t.ok((url.searchParams.get('cursor') ?? '') !== '', `${what} has a cursor`)
  }
})

t.test('limit outside 1..100 answers 400 validation_error', async (t) => {
  const user = await register(server.url)
  for (const limit of [0, 101, -1, 'x']) {
    isError(t, await allGroups(user.token, { limit }), 400, 'validation_error', `limit ${limit}`)
  }
  t.equal((await allGroups(user.token, { limit: 100 })).status, 200, 'limit 100')
  t.equal((await allGroups(user.token, { limit: 1 })).status, 200, 'limit 1')
})

t.test('a cursor from the messages route, a tampered or a made-up one answers 400 invalid_cursor', async (t) => {
  const owner = await register(server.url)
  const p = uniqueName('cursor')
  await rooms(owner, [`${p}-a`, `${p}-b`])

  // A real history cursor: two messages, one a page.
  const socket = await openSocket(server.wsUrl, `${p}-a`, { token: owner.token })
  t.teardown(() => socket.close())
  socket.send({ message: 'one', message_type: 'text' })
  socket.send({ message: 'two', message_type: 'text' })
  await socket.messageCount(2)
  const history = await api(server.url, 'GET', `/api/chat/groups/${p}-a/messages/?limit=1`, { token: owner.token })
  t.equal(history.status, 200)
  t.type(history.body.next, 'string', 'the history has a next page')
  const messagesCursor = new URL(history.body.next).searchParams.get('cursor')!
  t.equal((await follow(owner.token, history.body.next)).status, 200, 'the history cursor works where it was issued')
  isError(t, await allGroups(owner.token, { cursor: messagesCursor }), 400, 'invalid_cursor', 'messages cursor')

  const first = await allGroups(owner.token, { search: p, limit: 1 })
  const cursor = new URL(first.body.next).searchParams.get('cursor')!
  t.same(names(await allGroups(owner.token, { search: p, limit: 1, cursor })), [`${p}-b`], 'the real cursor works')
  const swap = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
  const forged = [
    ['tampered body', swap(cursor, 0)],
    ['tampered signature', swap(cursor, cursor.length - 5)],
    ['unsigned', `${Buffer.from(JSON.stringify(['n', `${p}-a`])).toString('base64url')}.x`],
    ['garbage', 'not-a-cursor'],
    ['empty', '']
  ]
  for (const [what, value] of forged) {
    isError(t, await allGroups(owner.token, { search: p, limit: 1, cursor: value! }), 400, 'invalid_cursor', what)
  }
})

t.test('all-groups answers without its trailing slash, and its links work from there', async (t) => {
  const owner = await register(server.url)
  const p = uniqueName('slash')
  await rooms(owner, [`${p}-a`, `${p}-b`])
  const response = await allGroups(owner.token, { search: p, limit: 1 }, '/api/chat/all-groups')
  t.equal(response.status, 200)
  t.same(names(response), [`${p}-a`])
  t.same(names(await follow(owner.token, response.body.next)), [`${p}-b`], 'next works')
})

t.test('all-groups answers 401 without a token, with and without its trailing slash', async (t) => {
  for (const path of ['/api/chat/all-groups/', '/api/chat/all-groups']) {
    isError(t, await allGroups(undefined, {}, path), 401, 'not_authenticated', path)
  }
})
