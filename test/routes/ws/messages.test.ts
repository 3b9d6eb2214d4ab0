import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { roomMembers } from '../../../src/db/schema/index.js'
import {
  api, createRoom, openSocket, roomWith, uniqueName, type Account, type ApiResponse, type SocketClient
} from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

// One server for the file: every subtest makes its own users and rooms.
const server = await startServer(t)

const MESSAGE_FRAME_KEYS = ['client_id', 'created_at', 'deleted', 'edited_at', 'id', 'mentions', 'message', 'message_type', 'reactions', 'reply_to', 'rev', 'room', 'sender', 'seq', 'type']
const USER_KEYS = ['first_name', 'id', 'last_name', 'username']
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const seqs = (frames: Array<{ seq: number }>) => frames.map((f) => f.seq)

/** Every stored message of a room, oldest first, read through the history route page by page. */
async function history (token: string, room: string): Promise<any[]> {
  const found: any[] = []
  let url: string | null = `/api/chat/groups/${room}/messages/?limit=100`
  while (url !== null) {
    const response: ApiResponse = await api(server.url, 'GET', url, { token })
    if (response.status !== 200) throw new Error(`history answered ${response.status}`)
    found.push(...response.body.results)
    url = response.body.next
  }
  return found.reverse()
}

async function open (t: Test, account: Account, room: string, lastSeq?: number): Promise<SocketClient> {
  const socket = await openSocket(server.wsUrl, room, { token: account.token, lastSeq })
  t.teardown(() => socket.close())
  return socket
}

/** Sends a ping and waits for its pong; returns the frames that arrived in between (the answer to what came before). */
async function framesBeforePong (socket: SocketClient): Promise<any[]> {
  const from = socket.frames.length
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong', from)
  const pong = socket.frames.findIndex((f, i) => i >= from && f.type === 'pong')
  return socket.frames.slice(from, pong)
}

t.test('a message frame is broadcast to every socket in the room, the sender included, and nowhere else', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const other = await createRoom(server.url, bob!.token)
  const sender = await open(t, owner, room.name)
  const ownerAgain = await open(t, owner, room.name)
  const bobs = await open(t, bob!, room.name)
  const elsewhere = await open(t, bob!, other.name)

  sender.send('{"message": "Hello, world!", "message_type": "text"}')
  const frames = await Promise.all([sender, ownerAgain, bobs].map(async (s) => (await s.messageCount(1))[0]))
  for (const frame of frames) t.same(frame, frames[0], 'every socket gets the same frame')
  const [frame] = frames
  t.same(Object.keys(frame).sort(), MESSAGE_FRAME_KEYS, 'the Message fields and type')
  t.match(frame, { type: 'message', room: room.name, seq: 1, message: 'Hello, world!', message_type: 'text', client_id: null })
  t.type(frame.id, 'number')
  t.match(frame.created_at, ISO_UTC)
  t.same(Object.keys(frame.sender).sort(), USER_KEYS)
  t.same(frame.sender, owner.user, 'the sender is the socket\'s user')

  // The other room's socket sees its own room's first message first, not the one above.
  elsewhere.send({ message: 'in the other room' })
  const [first] = await elsewhere.messageCount(1)
  t.match(first, { room: other.name, seq: 1, message: 'in the other room' })
  t.equal(elsewhere.messages().length, 1)

  const stored = await history(owner.token, room.name)
  t.equal(stored.length, 1)
  t.same({ type: 'message', ...stored[0] }, frame, 'history holds the very message that was broadcast')
})

t.test('lone surrogates escaped in a frame are stored as U+FFFD, next to other messages of the same batch', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const socket = await open(t, owner, room.name)
  // JSON can carry a lone surrogate as an escape; UTF-8 (and PostgreSQL) cannot: it is replaced, not refused.
  socket.send('{"message": "a\\udfff\\ud800b", "client_id": "c\\ud800"}')
  socket.send({ message: 'plain' })
  const [odd, plain] = await socket.messageCount(2)
  t.match(odd, { seq: 1, message: 'a\ufffd\ufffdb', client_id: 'c\ufffd' })
  t.match(plain, { seq: 2, message: 'plain' })
  t.same((await history(owner.token, room.name)).map((m: { message: string }) => m.message), ['a\ufffd\ufffdb', 'plain'])
})

t.test('500 messages pipelined by 5 senders at once get seq 1..500, in the same order on every socket', async (t) => {
  const { owner, room, members } = await roomWith(server.url, 4)
  const senders = [owner, ...members]
  const sockets = await Promise.all(senders.map((account) => open(t, account, room.name)))
  const PER_SENDER = 100
  const total = senders.length * PER_SENDER

  sockets.forEach((socket, s) => {
    for (let i = 0; i < PER_SENDER; i++) socket.send({ message: `s${s} m${i}`, client_id: `s${s}-${i}` })
  })
  const received = await Promise.all(sockets.map((socket) => socket.messageCount(total, 60_000)))
  for (const [s, frames] of received.entries()) {
    t.same(seqs(frames), range(1, total), `socket ${s} got seq 1..${total} in order, once each`)
    t.same(frames.map((f) => f.id), received[0]!.map((f) => f.id), `socket ${s} agrees on which message has which seq`)
    // Each sender's own messages keep the order it sent them in.
    for (let sender = 0; sender < senders.length; sender++) {
      const own = frames.filter((f) => f.sender.id === senders[sender]!.user.id).map((f) => f.client_id)
      t.same(own, range(0, PER_SENDER - 1).map((i) => `s${sender}-${i}`), `socket ${s} sees sender ${sender} in send order`)
    }
  }
  // A ping answered after all of them: nothing more (no duplicate) was on its way.
  for (const socket of sockets) await framesBeforePong(socket)
  t.same(sockets.map((s) => s.messages().length), sockets.map(() => total), 'no socket got a message twice')

  const stored = await history(owner.token, room.name)
  t.same(seqs(stored), range(1, total), 'history has the same seqs')
  t.same(stored.map((m) => m.id), received[0]!.map((f) => f.id), 'history agrees with the broadcasts')
})

t.test('client_id makes a send idempotent per user and room', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const clientId = uniqueName('retry')
  const first = await open(t, owner, room.name)
  const watcher = await open(t, bob!, room.name)

  // Sent twice back to back: stored once, broadcast once.
  first.send({ message: 'once', client_id: clientId })
  first.send({ message: 'once', client_id: clientId })
  first.send({ message: 'marker', client_id: 'marker-1' })
  await first.next((f) => f.client_id === 'marker-1')
  const original = first.messages().filter((f) => f.client_id === clientId)
  t.equal(original.length, 1, 'the sender got one broadcast for both sends')
  t.match(original[0], { seq: 1, message: 'once' })
  await watcher.next((f) => f.client_id === 'marker-1')
  t.equal(watcher.messages().filter((f) => f.client_id === clientId).length, 1, 'others got it once')

  // A retry on a socket that does not hold the message (a new one, a reconnect) is answered with the stored message,
  // and only there; a resend on a socket that already holds it gets no second copy.
  const retry = await open(t, owner, room.name)
  retry.send({ message: 'once', client_id: clientId })
  const answer = await retry.next((f) => f.type === 'message' && f.client_id === clientId)
  t.same(answer, original[0], 'the retry is answered with the stored message (same id and seq)')
  first.send({ message: 'once', client_id: clientId })
  first.send({ message: 'marker', client_id: 'marker-2' })
  await Promise.all([first, watcher, retry].map((s) => s.next((f) => f.client_id === 'marker-2')))
  t.equal(first.messages().filter((f) => f.client_id === clientId).length, 1,
    'a resend on the socket that holds the message gets no second copy, nor does the other retry reach it')
  t.same(first.frames.filter((f) => f.type === 'error'), [], 'the resend is not refused either')
  t.equal(watcher.messages().filter((f) => f.client_id === clientId).length, 1, 'the retries are not broadcast')
  t.equal(retry.messages().filter((f) => f.client_id === clientId).length, 1)
  t.same(seqs(retry.messages()), [1, 3], 'the retries took no seq (marker-2 follows marker-1 directly)')

  // The same client_id from another user, or in another room, is another message.
  watcher.send({ message: 'bob too', client_id: clientId })
  const bobs = await watcher.next((f) => f.client_id === clientId && f.sender.id === bob!.user.id)
  t.equal(bobs.seq, 4)
  t.not(bobs.id, original[0].id)
  const otherRoom = await createRoom(server.url, owner.token)
  const elsewhere = await open(t, owner, otherRoom.name)
  elsewhere.send({ message: 'other room', client_id: clientId })
  const [inOther] = await elsewhere.messageCount(1)
  t.match(inOther, { room: otherRoom.name, seq: 1, message: 'other room', client_id: clientId })
  t.not(inOther.id, original[0].id)

  const stored = await history(owner.token, room.name)
  t.same(stored.map((m) => [m.seq, m.client_id, m.sender.id]), [
    [1, clientId, owner.user.id], [2, 'marker-1', owner.user.id], [3, 'marker-2', owner.user.id], [4, clientId, bob!.user.id]
  ], 'one row per (user, room, client_id)')
})

t.test('last_seq replays the messages after it, then live ones, with no gap and no duplicate', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const sender = await open(t, owner, room.name)
  for (let i = 1; i <= 10; i++) sender.send({ message: `m${i}` })
  await sender.messageCount(10)

  const resumed = await open(t, owner, room.name, 4)
  await resumed.messageCount(6)
  sender.send({ message: 'live' })
  const frames = await resumed.messageCount(7)
  t.same(seqs(frames), range(5, 11), 'seq 5..10 replayed, then 11 live')
  t.same(frames.map((f) => f.message), ['m5', 'm6', 'm7', 'm8', 'm9', 'm10', 'live'])
  const full = await open(t, owner, room.name, 0)
  t.same(seqs(await full.messageCount(11)), range(1, 11), 'last_seq=0 replays the whole room')
  await framesBeforePong(resumed)
  t.equal(resumed.messages().length, 7, 'nothing was sent twice')
})

t.test('sockets that resume with last_seq=0 while a sender is still sending get every message exactly once', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const sender = await open(t, owner, room.name)
  const COUNT = 200
  // Pipelined, a few frames ahead of the broadcasts: all at once they would commit as one batch, over before
  // anyone could connect in the middle.
  const AHEAD = 5
  const sending = (async () => {
    for (let i = 1; i <= COUNT; i++) {
      sender.send({ message: `m${i}` })
      if (i > AHEAD) await sender.messageCount(i - AHEAD, 30_000)
    }
  })()

  // Connect at several points of the stream, so that replays overlap live delivery.
  const resumed: SocketClient[] = []
  for (const seen of [1, 60, 120]) {
    await sender.messageCount(seen, 30_000)
    resumed.push(await open(t, bob!, room.name, 0))
  }
  await sending
  sender.send({ message: 'after' })
  for (const [i, socket] of resumed.entries()) {
    const frames = await socket.messageCount(COUNT + 1, 30_000)
    await framesBeforePong(socket)
    t.same(seqs(socket.messages()), range(1, COUNT + 1), `socket ${i}: 1..${COUNT + 1} once each, in order`)
    t.equal(frames.at(-1).message, 'after')
  }
})

t.test('last_seq beyond the room\'s last message still gets the next live one', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const sender = await open(t, owner, room.name)
  for (let i = 1; i <= 3; i++) sender.send({ message: `m${i}` })
  await sender.messageCount(3)
  const ahead = await open(t, owner, room.name, 100)
  t.same(await framesBeforePong(ahead), [], 'nothing replayed on the join')
  sender.send({ message: 'next' })
  const [frame] = await ahead.messageCount(1)
  t.match(frame, { seq: 4, message: 'next' })
  await framesBeforePong(ahead)
  t.equal(ahead.messages().length, 1, 'nothing was replayed')
  // A message stored while such a socket joins is sent to it, not counted among those it claims to have.
  const joining = await open(t, owner, room.name, 100)
  sender.send({ message: 'while joining' })
  t.match((await joining.messageCount(1))[0], { seq: 5, message: 'while joining' })
  await framesBeforePong(joining)
  t.equal(joining.messages().length, 1, 'and only it')
})

t.test('refused frames get an error frame, store nothing, and leave the socket open', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const socket = await open(t, owner, room.name)
  const cases: Array<[string, string | Buffer | object, string]> = [
    ['invalid JSON', '{"message": "hi"', 'invalid_json'],
    ['a binary frame', Buffer.from('{"message": "hi"}'), 'invalid_json'],
    ['a JSON array', '[{"message": "hi"}]', 'validation_error'],
    ['a JSON number', '42', 'validation_error'],
    ['a JSON string', '"hi"', 'validation_error'],
    ['JSON null', 'null', 'validation_error'],
    ['an unknown type', { type: 'dance' }, 'validation_error'],
    ['a non-string type', { type: 1, message: 'hi' }, 'validation_error'],
    ['message missing', { message_type: 'text' }, 'validation_error'],
    ['message empty', { message: '' }, 'validation_error'],
    ['message only whitespace', { message: ' \n\t  ' }, 'validation_error'],
    ['message of 4001 characters', { message: 'x'.repeat(4001) }, 'validation_error'],
    ['message not a string', { message: 42 }, 'validation_error'],
    ['message null', { message: null }, 'validation_error'],
    ['message_type unknown', { message: 'hi', message_type: 'video' }, 'validation_error'],
    ['message_type not a string', { message: 'hi', message_type: 1 }, 'validation_error'],
    ['message_type system (clients may not send system messages)', { message: 'hi', message_type: 'system' }, 'validation_error'],
    ['an image that is not a URL', { message: 'not a url', message_type: 'image' }, 'validation_error'],
    ['a file that is not an http(s) URL', { message: 'javascript:alert(1)', message_type: 'file' }, 'validation_error'],
    ['client_id empty', { message: 'hi', client_id: '' }, 'validation_error'],
    ['client_id of 65 characters', { message: 'hi', client_id: 'c'.repeat(65) }, 'validation_error'],
    ['client_id not a string', { message: 'hi', client_id: 7 }, 'validation_error'],
    ['an unknown field', { message: 'hi', extra: true }, 'validation_error'],
    ['an unknown field on typing', { type: 'typing', extra: true }, 'validation_error'],
    ['read without seq', { type: 'read' }, 'validation_error'],
    ['read with a negative seq', { type: 'read', seq: -1 }, 'validation_error'],
    ['read with a string seq', { type: 'read', seq: '5' }, 'validation_error']
  ]
  for (const [what, frame, code] of cases) {
    const from = socket.frames.length
    socket.socket.send(Buffer.isBuffer(frame) ? frame : typeof frame === 'string' ? frame : JSON.stringify(frame),
      { binary: Buffer.isBuffer(frame) })
    const answer = await framesBeforePong(socket)
    t.equal(answer.length, 1, `${what}: one frame before the pong`)
    t.match(answer[0], { type: 'error', code, detail: String }, `${what}: ${code}`)
    t.equal(socket.frames.length - from, 2, `${what}: the socket is still open and answers a ping`)
  }
  t.equal(socket.closeCode, undefined, 'never closed')
  t.same(await history(owner.token, room.name), [], 'nothing was stored')

  const longest = 'é'.repeat(4000)
  socket.send({ message: `  ${longest}\n` })
  const [stored] = await socket.messageCount(1)
  t.equal(stored.message, longest, '4000 characters (after trimming) are accepted, and stored trimmed')
  t.equal(stored.seq, 1, 'the refused frames took no seq')
  socket.send({ message: 'https://example.com/cat.png', message_type: 'image' })
  t.match((await socket.messageCount(2))[1], { message_type: 'image', message: 'https://example.com/cat.png' })
})

t.test('a frame over 64 KiB closes the socket with 1009; one of exactly 64 KiB does not', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const socket = await open(t, owner, room.name)
  const frame = (bytes: number) => {
    const head = '{"message": "'
    return head + 'x'.repeat(bytes - head.length - 2) + '"}'
  }
  socket.send(frame(64 * 1024))
  const [answer] = await framesBeforePong(socket)
  t.match(answer, { type: 'error', code: 'validation_error' }, 'exactly 64 KiB: refused as too long a message, still open')

  socket.send(frame(64 * 1024 + 1))
  const { code } = await socket.waitClose()
  t.equal(code, 1009)
})

t.test('typing reaches the others in the room, not the sender, at most once per 2 s', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const typist = await open(t, owner, room.name)
  const reader = await open(t, bob!, room.name)

  typist.send({ type: 'typing' })
  typist.send({ type: 'typing' })
  typist.send({ message: 'done typing' })
  await reader.next((f) => f.type === 'message' && f.message === 'done typing')
  const seen = reader.frames.filter((f) => f.type === 'typing' || f.type === 'message').map((f) => f.type)
  t.same(seen, ['typing', 'message'], 'exactly one typing frame, before the message')
  t.same(reader.frames.find((f) => f.type === 'typing'), { type: 'typing', user: owner.user })

  await typist.next((f) => f.type === 'message' && f.message === 'done typing')
  await framesBeforePong(typist)
  t.equal(typist.frames.filter((f) => f.type === 'typing').length, 0, 'the sender is not told of its own typing')
})

t.test('a read frame is accepted with no answer and marks the room read', async (t) => {
  const { owner, room, members: [reader] } = await roomWith(server.url, 1)
  const sender = await open(t, owner, room.name)
  for (let i = 1; i <= 3; i++) sender.send({ message: `m${i}` })
  await sender.messageCount(3)
  const socket = await open(t, reader!, room.name)

  const readMark = async () => {
    const [row] = await server.app.database.orm.select({ seq: roomMembers.lastReadSeq }).from(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, reader!.user.id)))
    return Number(row!.seq)
  }
  t.equal(await readMark(), 0, 'nothing read yet')
  socket.send({ type: 'read', seq: 2 })
  t.same(await framesBeforePong(socket), [], 'no error frame, no answer')
  // The mark is written while the socket goes on (no frame acknowledges it): poll it, with a bound.
  const deadline = Date.now() + 5000
  while (await readMark() !== 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await readMark(), 2, 'read up to seq 2')
})

t.test('a ping frame is answered with a pong frame', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const socket = await open(t, owner, room.name)
  socket.send({ type: 'ping' })
  t.same(await socket.next((f) => f.type === 'pong'), { type: 'pong' })
  t.same(socket.frames, [{ type: 'pong' }], 'and nothing else')
})
