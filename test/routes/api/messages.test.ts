import { and, asc, desc, eq, gt, lt, sql, type SQLWrapper } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { messages, users } from '../../../src/db/schema/index.js'
import {
  api, createRoom, join, openSocket, register, uniqueName, type Account, type ApiResponse
} from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'
import { isError } from '../../helpers/assertions.js'

// One server for the file: every subtest makes its own users and rooms.
const server = await startServer(t)

/** A subtest's `t` (the root `t` has a type of its own). */

const MESSAGE_KEYS = ['client_id', 'created_at', 'deleted', 'edited_at', 'id', 'mentions', 'message', 'message_type', 'reactions', 'reply_to', 'rev', 'room', 'sender', 'seq']
const USER_KEYS = ['first_name', 'id', 'last_name', 'username']
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

const historyPath = (room: string, query = '') => `/api/chat/groups/${room}/messages/${query}`

const history = (token: string | undefined, room: string, query = '') =>
  api(server.url, 'GET', historyPath(room, query), token === undefined ? {} : { token })

/**
 * A room owned by a new user with `count` messages stored through the real socket: sent pipelined, each with a
 * client_id, and waited for until every broadcast has come back.
 */
async function seededRoom (count: number, fields: Record<string, unknown> = {}) {
  const owner = await register(server.url)
  const room = await createRoom(server.url, owner.token, fields)
  const frames = await sendMessages(owner, room.name, count)
  return { owner, room, frames }
}

/** Sends `count` messages from `account` over a socket of its own; resolves with their broadcasts. */
async function sendMessages (account: Account, room: string, count: number, prefix = 'msg') {
  const socket = await openSocket(server.wsUrl, room, { token: account.token })
  try {
    const clientIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}-${uniqueName('c')}`)
    for (const [i, clientId] of clientIds.entries()) socket.send({ message: `${prefix} ${i}`, client_id: clientId })
    const frames = await socket.messageCount(count, 20_000)
    // Arrival order is the room's order: the broadcasts come back in the order the frames were sent.
    if (frames.map((f) => f.client_id).join() !== clientIds.join()) throw new Error('broadcasts out of send order')
    return frames
  } finally {
    socket.close()
  }
}

/** Follows `link` (next or previous) from `start` until it is null; every page must answer 200. */
async function walk (t: Test, token: string, start: ApiResponse, link: 'next' | 'previous', maxPages = 500) {
  const pages = [start.body]
  let url: string | null = start.body[link]
  while (url !== null) {
    if (pages.length > maxPages) throw new Error(`more than ${maxPages} pages following ${link}`)
    const response = await api(server.url, 'GET', url, { token })
    if (response.status !== 200) {
      t.fail(`following ${link} answered ${response.status}: ${JSON.stringify(response.body)}`)
      break
    }
    pages.push(response.body)
    url = response.body[link]
  }
  return pages
}

const seqsOf = (pages: Array<{ results: Array<{ seq: number }> }>) => pages.flatMap((p) => p.results.map((m) => m.seq))
const descending = (from: number, to = 1) => Array.from({ length: from - to + 1 }, (_, i) => from - i)

/** The `cursor` parameter of a page link. */
const cursorOf = (link: string) => new URL(link).searchParams.get('cursor')!

t.test('messages are stored through the socket and the first page is the newest 50, newest first', async (t) => {
  const { owner, room } = await seededRoom(120)
  const first = await history(owner.token, room.name)
  t.equal(first.status, 200)
  t.same(Object.keys(first.body).sort(), ['next', 'previous', 'results'], 'a page has exactly next, previous, results')
  t.strictSame(first.body.results.map((m: { seq: number }) => m.seq), descending(120, 71), 'seqs 120..71, descending')
  t.equal(first.body.previous, null, 'the first page has no previous')

  const next = new URL(first.body.next)
  t.equal(next.origin, server.url, 'next is an absolute URL on this server')
  t.equal(next.pathname, historyPath(room.name), 'next points at the same history')
  t.type(next.searchParams.get('cursor'), 'string')

  const withoutSlash = await api(server.url, 'GET', `/api/chat/groups/${room.name}/messages`, { token: owner.token })
  t.equal(withoutSlash.status, 200, 'the route answers without its trailing slash too')
  t.strictSame(withoutSlash.body.results, first.body.results)

  const second = await api(server.url, 'GET', first.body.next, { token: owner.token })
  t.strictSame(second.body.results.map((m: { seq: number }) => m.seq), descending(70, 21), 'next leads to older messages')
  t.equal(new URL(second.body.previous).origin, server.url, 'previous is an absolute URL too')
})

t.test('walking next to the end and previous back visits every seq once, in order, for any limit', async (t) => {
  const { owner, room } = await seededRoom(120)
  for (const limit of [1, 7, undefined]) {
    await t.test(`limit ${limit ?? 'default'}`, async (t) => {
      const query = limit === undefined ? '' : `?limit=${limit}`
      const first = await history(owner.token, room.name, query)
      t.equal(first.status, 200)
      t.equal(first.body.previous, null, 'the first page has no previous')
      const forward = await walk(t, owner.token, first, 'next')

      t.strictSame(seqsOf(forward), descending(120), 'every seq once, strictly descending, down to 1')
      t.equal(forward.length, Math.ceil(120 / (limit ?? 50)), 'as many pages as the limit implies')
      t.ok(forward.slice(0, -1).every((page) => page.results.length === (limit ?? 50)), 'every page but the last is full')
      t.equal(forward.at(-1).next, null, 'the last page has no next')
      for (const page of forward.slice(1)) {
        if (limit !== undefined) t.equal(new URL(page.next ?? page.previous).searchParams.get('limit'), String(limit), 'links keep the limit')
      }

      const backward = await walk(t, owner.token, { status: 200, body: forward.at(-1), headers: new Headers() }, 'previous')
      t.equal(backward.length, forward.length, 'previous visits as many pages')
      t.strictSame([...backward].reverse(), forward, 'previous returns exactly the same pages, in reverse')
      t.equal(backward.at(-1).previous, null, 'and ends at the first page, whose previous is null')
    })
  }
})

t.test('history messages have exactly the Message fields and equal their live frames', async (t) => {
  const owner = await register(server.url)
  const reader = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, reader.token, room.name)
  const socket = await openSocket(server.wsUrl, room.name, { token: owner.token })
  const listener = await openSocket(server.wsUrl, room.name, { token: reader.token })
  t.teardown(() => { socket.close(); listener.close() })
  const started = Date.now()
  const clientId = uniqueName('cid')
  socket.send({ message: 'Hello, world!', message_type: 'text' })
  socket.send({ message: 'https://example.com/cat.png', message_type: 'image', client_id: clientId })
  socket.send({ message: 'https://example.com/notes.pdf', message_type: 'file' })
  socket.send('{"message": "no type given"}')
  const live = await listener.messageCount(4)
  const own = await socket.messageCount(4)
  t.strictSame(own, live, 'the sender and another member get the same frames')

  const page = await history(reader.token, room.name)
  t.equal(page.status, 200)
  t.strictSame(page.body.results.map((m: { message_type: string }) => m.message_type), ['text', 'file', 'image', 'text'])
  for (const message of page.body.results) {
    t.same(Object.keys(message).sort(), MESSAGE_KEYS, `message ${message.seq} has exactly the Message fields`)
    t.type(message.id, 'number')
    t.equal(message.room, room.name)
    t.same(Object.keys(message.sender).sort(), USER_KEYS, 'sender has exactly the User fields')
    t.strictSame(message.sender, owner.user, 'sender is the User who sent it')
    t.match(message.created_at, ISO_UTC, 'created_at is ISO-8601 UTC with Z')
    const at = Date.parse(message.created_at)
    t.ok(at >= started - 5000 && at <= Date.now() + 5000, 'created_at is the time of sending')
    t.ok(message.client_id === null || typeof message.client_id === 'string', 'client_id is a string or null')

    const frame = live.find((f) => f.seq === message.seq)
    const { type, ...rest } = frame
    t.equal(type, 'message')
    t.strictSame(message, rest, `history and live frame of seq ${message.seq} are equal apart from "type"`)
  }
  const [fourth, third, second, first] = page.body.results
  t.match(first, { seq: 1, message: 'Hello, world!', message_type: 'text', client_id: null })
  t.match(second, { seq: 2, message: 'https://example.com/cat.png', message_type: 'image', client_id: clientId })
  t.match(third, { seq: 3, message: 'https://example.com/notes.pdf', message_type: 'file', client_id: null })
  t.match(fourth, { seq: 4, message: 'no type given', message_type: 'text', client_id: null })
  t.equal(new Set(page.body.results.map((m: { id: number }) => m.id)).size, 4, 'ids are distinct')
})

t.test('limit outside 1..100 or not an integer is a validation error; the bounds are accepted', async (t) => {
  const { owner, room } = await seededRoom(3)
  for (const limit of ['0', '101', '-1', 'abc', '1.5', '']) {
    const response = await history(owner.token, room.name, `?limit=${limit}`)
    isError(t, response, 400, 'validation_error')
    t.ok(response.body.errors?.some((e: { field: string }) => e.field === '/limit'), `limit=${limit} is reported as /limit`)
  }
  const one = await history(owner.token, room.name, '?limit=1')
  t.equal(one.status, 200)
  t.strictSame(one.body.results.map((m: { seq: number }) => m.seq), [3])
  const hundred = await history(owner.token, room.name, '?limit=100')
  t.equal(hundred.status, 200)
  t.strictSame(hundred.body.results.map((m: { seq: number }) => m.seq), [3, 2, 1])
  t.equal(hundred.body.next, null)
})

t.test('unknown query parameters are refused with 400', async (t) => {
  const { owner, room } = await seededRoom(2)
  for (const query of ['?page=2', '?offset=10', '?limit=10&ordering=seq', '?before=1']) {
    const response = await history(owner.token, room.name, query)
    isError(t, response, 400, 'validation_error')
  }
})

t.test('a cursor the server did not issue for this history is refused with invalid_cursor', async (t) => {
  const { owner, room } = await seededRoom(30)
  const other = await createRoom(server.url, owner.token)
  await sendMessages(owner, other.name, 3)

  const first = await history(owner.token, room.name, '?limit=5')
  const second = await api(server.url, 'GET', first.body.next, { token: owner.token })
  const issued = [cursorOf(first.body.next), cursorOf(second.body.next), cursorOf(second.body.previous)]
  for (const cursor of issued) {
    t.equal((await history(owner.token, room.name, `?limit=5&cursor=${cursor}`)).status, 200, 'an issued cursor works')
  }

  const refused = async (cursor: string, what: string) => {
    const response = await history(owner.token, room.name, `?limit=5&cursor=${encodeURIComponent(cursor)}`)
    t.equal(response.status, 400, `${what}: 400`)
    t.equal(response.body?.code, 'invalid_cursor', `${what}: invalid_cursor`)
    t.same(Object.keys(response.body ?? {}).sort(), ['code', 'detail'], `${what}: error body keys`)
  }

  for (const garbage of ['', 'abc', 'abc.def', 'a.b.c', '....', '!!!', 'eyJhIjoxfQ', 'WyJuIiw1XQ.AAAAAAAAAAAAAAAAAAAAAA']) {
    await refused(garbage, `garbage ${JSON.stringify(garbage)}`)
  }

  // Each character changed in turn, to the base64url character one bit away (the subtlest change there is).
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (const cursor of issued) {
    for (let i = 0; i < cursor.length; i++) {
      const index = alphabet.indexOf(cursor[i]!)
      const changed = index === -1 ? (cursor[i] === '.' ? '_' : '.') : alphabet[index ^ 1]!
      await refused(cursor.slice(0, i) + changed + cursor.slice(i + 1), `${cursor} with character ${i} changed`)
    }
  }

  const otherPage = await history(owner.token, other.name, '?limit=1')
  await refused(cursorOf(otherPage.body.next), 'a cursor from another room\'s history')
  const back = await history(owner.token, other.name, `?limit=1&cursor=${cursorOf(otherPage.body.next)}`)
  t.equal(back.status, 200, 'that cursor does work in its own room')

  const roomsPage = await api(server.url, 'GET', '/api/chat/all-groups/?limit=1', { token: owner.token })
  t.equal(roomsPage.status, 200)
  t.type(roomsPage.body.next, 'string', 'all-groups has a next page')
  await refused(cursorOf(roomsPage.body.next), 'a cursor from /api/chat/all-groups/')
})

t.test('who may read the history', async (t) => {
  const { room: publicRoom } = await seededRoom(2)
  const { owner, room: privateRoom } = await seededRoom(2, { is_private: true })
  const stranger = await register(server.url)

  await t.test('non-member of a public room gets 403 permission_denied', async (t) => {
    isError(t, await history(stranger.token, publicRoom.name), 403, 'permission_denied')
  })

  await t.test('a member who left gets 403 again', async (t) => {
    const visitor = await register(server.url)
    await join(server.url, visitor.token, publicRoom.name)
    t.equal((await history(visitor.token, publicRoom.name)).status, 200, 'a member may read')
    const left = await api(server.url, 'POST', `/api/chat/groups/${publicRoom.name}/leave/`, { token: visitor.token })
    t.equal(left.status, 204)
    isError(t, await history(visitor.token, publicRoom.name), 403, 'permission_denied')
  })

  await t.test('a private room the caller is not in is 404, exactly like an unknown room', async (t) => {
    const hidden = await history(stranger.token, privateRoom.name)
    isError(t, hidden, 404, 'not_found')
    const unknown = await history(stranger.token, uniqueName('nosuchroom'))
    isError(t, unknown, 404, 'not_found')
    t.strictSame(hidden.body, unknown.body, 'the same body: the private room does not leak')
    const ownerView = await history(owner.token, privateRoom.name)
    t.equal(ownerView.status, 200, 'its member reads it')
    t.equal(ownerView.body.results.length, 2)
  })

  await t.test('no token is 401 not_authenticated; a bad one 401 authentication_failed', async (t) => {
    isError(t, await history(undefined, publicRoom.name), 401, 'not_authenticated')
    isError(t, await history(undefined, uniqueName('nosuchroom')), 401, 'not_authenticated')
    isError(t, await history('0'.repeat(40), publicRoom.name), 401, 'authentication_failed')
  })

  await t.test('a malformed room name is a validation error', async (t) => {
    isError(t, await history(stranger.token, 'bad%20name'), 400, 'validation_error')
  })
})

t.test('an empty room gives an empty page with no links', async (t) => {
  const owner = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  for (const query of ['', '?limit=1', '?limit=100']) {
    const page = await history(owner.token, room.name, query)
    t.equal(page.status, 200)
    t.strictSame(page.body, { next: null, previous: null, results: [] }, `empty page for "${query}"`)
  }
})

t.test('messages arriving while paging cause no duplicate or gap in the backward walk', async (t) => {
  const { owner, room } = await seededRoom(30)
  const first = await history(owner.token, room.name, '?limit=7')
  t.strictSame(seqsOf([first.body]), descending(30, 24))

  const late = await sendMessages(owner, room.name, 5, 'late')
  t.strictSame(late.map((f) => f.seq), [31, 32, 33, 34, 35], 'the new messages take seqs 31..35')

  const forward = await walk(t, owner.token, first, 'next')
  t.strictSame(seqsOf(forward), descending(30), 'the walk down sees 30..1, each once, contiguous')

  // Walking back up from the bottom, previous goes past the first page into the messages that arrived since.
  const backward = await walk(t, owner.token, { status: 200, body: forward.at(-1), headers: new Headers() }, 'previous')
  t.strictSame(seqsOf([...backward].reverse()), descending(35), 'the walk back up reaches 35, each seq once')
  t.equal(backward.at(-1).previous, null, 'and ends with previous null')
  t.strictSame(seqsOf([backward.at(-1)]), descending(35, 31), 'the newest page holds the late messages')

  const fresh = await history(owner.token, room.name, '?limit=7')
  t.strictSame(seqsOf([fresh.body]), descending(35, 29), 'a fresh first page starts at the newest message')
})

t.test('a page deep in the history is one range scan on the (room_id, seq) index', async (t) => {
  const { orm: db } = server.app.database
  const owner = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const depth = 20_000
  // A planner fixture, not messages under test: the socket would take minutes to store this many, and the
  // planner only prefers an index over a scan of a table big enough for it to matter.
  await db.execute(sql`insert into messages (room_id, seq, rev, created_rev, sender_id, message)
    select ${room.id}::int, g, g, g, ${owner.user.id}::int, 'filler' from generate_series(1, ${depth}::int) g`)
  await db.execute(sql`update rooms set last_seq = ${depth}::bigint, last_rev = ${depth}::bigint where id = ${room.id}::int`)
  await db.execute(sql`analyze messages`)

  // The query plugins/messages-repository.ts `seek` builds, in each direction.
  const seek = (direction: 'after' | 'before', seq: number | undefined, limit: number) => {
    const bound = seq === undefined ? undefined : direction === 'after' ? gt(messages.seq, seq) : lt(messages.seq, seq)
    return db.select({ message: messages, sender: users }).from(messages)
      .innerJoin(users, eq(users.id, messages.senderId))
      .where(and(eq(messages.roomId, room.id), bound))
      .orderBy(direction === 'after' ? asc(messages.seq) : desc(messages.seq))
      .limit(limit)
  }

  // postgres.js answers an array of rows, PGlite { rows }; each row is one line of the plan.
  const explain = async (query: SQLWrapper): Promise<string[]> => {
    const result = await db.execute(sql`explain (analyze, costs off, timing off, summary off) ${query}`) as unknown
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, string>>
    return rows.map((row) => Object.values(row)[0]!)
  }

  const cases = [
    { what: 'the first page', query: seek('before', undefined, 51), scan: /Index Scan Backward using "?messages_roomId_seq_unique"? on messages/ },
    { what: 'a page deep in the history', query: seek('before', depth / 2, 51), scan: /Index Scan Backward using "?messages_roomId_seq_unique"? on messages/ },
    { what: 'a previous page deep in the history', query: seek('after', depth / 2, 51), scan: /Index Scan using "?messages_roomId_seq_unique"? on messages/ }
  ]
  for (const { what, query, scan } of cases) {
    const plan = await explain(query)
    const text = plan.join('\n')
    const line = plan.find((l) => scan.test(l))
    t.ok(line, `${what} scans the (room_id, seq) index in page order`, { plan })
    t.notMatch(text, /Sort Key:[^\n]*seq/, `${what} needs no sort`, { plan })
    t.notMatch(text, /Seq Scan on messages/, `${what} does not scan the table`, { plan })
    const read = Number(/actual rows=([\d.]+)/.exec(line ?? '')?.[1])
    t.ok(read <= 51, `${what} reads only the page from the index (${read} rows), not the history above it`)
  }

  // The API pages this room as any other.
  const page = await history(owner.token, room.name, '?limit=100')
  const second = await api(server.url, 'GET', page.body.next, { token: owner.token })
  t.strictSame(seqsOf([second.body]), descending(depth - 100, depth - 199))
})
