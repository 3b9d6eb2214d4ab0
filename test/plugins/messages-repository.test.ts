import t from 'tap'
import { api, createRoom, join, openSocket, register, type Account, type SocketClient } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'
import { MessageWriter } from '../../src/db/message-writer.js'
import type { Query } from '../../src/db/client.js'

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1])

t.test('group commit: concurrent senders in many rooms keep each room gapless and each sender in order', async (t) => {
  const server = await startServer(t)
  const rooms = 12
  const sendersPerRoom = 3
  const perSender = 40
  const owner = await register(server.url)
  const users = await Promise.all(Array.from({ length: sendersPerRoom }, () => register(server.url)))
  const sockets: Array<{ room: string, client: SocketClient, tag: string }> = []
  for (let r = 0; r < rooms; r++) {
    const room = await createRoom(server.url, owner.token)
    for (const [u, user] of users.entries()) {
      await join(server.url, user.token, room.name)
      sockets.push({ room: room.name, client: await openSocket(server.wsUrl, room.name, { token: user.token }), tag: `${r}.${u}` })
    }
  }
  const before = await api(server.url, 'GET', '/metrics')

  // Every socket pipelines all of its messages at once: the writer sees many rooms in flight together.
  for (const { client, tag } of sockets) {
    for (let k = 0; k < perSender; k++) client.send({ message: `${tag} #${k}`, client_id: `${tag}-${k}` })
  }
  const total = sendersPerRoom * perSender
  await Promise.all(sockets.map(({ client }) => client.messageCount(total, 60_000)))

  for (const { room, client, tag } of sockets) {
    const seqs = client.messages().map((m) => m.seq)
    t.same(seqs, Array.from({ length: total }, (_, k) => k + 1), `${tag}: room ${room} seen as 1..${total}`)
    const mine = client.messages().filter((m) => m.client_id.startsWith(`${tag}-`)).map((m) => m.client_id)
    t.same(mine, Array.from({ length: perSender }, (_, k) => `${tag}-${k}`), `${tag}: own messages in send order`)
    t.ok(client.messages().every((m) => m.room === room), `${tag}: nothing from other rooms`)
  }
  const page = await api(server.url, 'GET', `/api/chat/groups/${sockets[0]!.room}/messages/?limit=100`, { token: owner.token })
  t.equal(page.body.results[0].seq, total, 'history ends at the last seq')

  const after = (await api(server.url, 'GET', '/metrics')).body as string
  const stored = metric(after, 'chat_messages_stored_total') - metric(before.body, 'chat_messages_stored_total')
  const batches = metric(after, 'chat_commit_batch_size_count') - metric(before.body, 'chat_commit_batch_size_count')
  t.equal(stored, rooms * total, 'every message stored once')
  t.ok(batches < stored / 2, `sends were committed in groups (${stored} messages in ${batches} transactions)`)
  for (const { client } of sockets) client.close()
})

t.test('one batch mixing rooms, repeats, retries and refusals: each send gets its own outcome', async (t) => {
  const server = await startServer(t)
  const { messagesRepository } = server.app
  const [owner, outsider] = [await register(server.url), await register(server.url)]
  const [a, b, gone] = [await createRoom(server.url, owner.token), await createRoom(server.url, owner.token),
    await createRoom(server.url, owner.token)]
  const send = (room: { id: number, name: string }, sender: Account, message: string, clientId: string | null = null) =>
    messagesRepository.send({ roomId: room.id, roomName: room.name, sender: sender.user, message, messageType: 'text', clientId, replyTo: null })
      .then((result) => ({ seq: result.message.seq, message: result.message.message, created: result.created }),
        (error: Error) => error.message)

  const stored = await send(a, owner, 'stored before', 'k-1')
  t.same(stored, { seq: 1, message: 'stored before', created: true }, 'a first message')
  await api(server.url, 'DELETE', `/api/chat/groups/${gone.name}/`, { token: owner.token })

  // All issued in one tick: the writer commits them as one batch.
  const outcomes = await Promise.all([
    send(a, owner, 'a one'),
    send(b, owner, 'b one', 'k-1'), // the same client_id in another room is another message
    send(a, owner, 'a retry', 'k-1'), // a retry of the stored message: its text is the stored one
    send(a, owner, 'a two', 'k-2'),
    send(a, owner, 'a two again', 'k-2'), // a repeat within the batch
    send(a, outsider, 'not a member'),
    send(gone, owner, 'to a deleted room'),
    send(b, owner, 'b two'),
    send(a, owner, 'a three')
  ])
  t.same(outcomes, [
    { seq: 2, message: 'a one', created: true },
    { seq: 1, message: 'b one', created: true },
    { seq: 1, message: 'stored before', created: false },
    { seq: 3, message: 'a two', created: true },
    { seq: 3, message: 'a two', created: false },
    'You are not a member of this room.',
    'You are not a member of this room.',
    { seq: 2, message: 'b two', created: true },
    { seq: 4, message: 'a three', created: true }
  ], 'seqs follow request order per room; repeats and retries get the stored message; refusals store nothing')

  const history = async (room: { name: string }) =>
    (await api(server.url, 'GET', `/api/chat/groups/${room.name}/messages/`, { token: owner.token })).body.results
      .map((m: { seq: number, message: string }) => `${m.seq} ${m.message}`)
  t.same(await history(a), ['4 a three', '3 a two', '2 a one', '1 stored before'], 'room a holds each message once')
  t.same(await history(b), ['2 b two', '1 b one'], 'room b holds its own')
})

/**
 * A writer whose statements reach the database in the order it issues them, as on its connection, and whose first
 * statement fails in the database (its transaction aborted: a row of it does not parse); its failure is answered
 * once the second statement has been issued behind it, as `failure` (what the writer hears), and every answer
 * comes back in the order issued.
 */
async function writerFailingFirst (t: Parameters<typeof startServer>[0], failure: (error: unknown) => unknown) {
  const server = await startServer(t)
  const { database } = server.app
  const [owner, a, b] = [await register(server.url), await register(server.url), await register(server.url)]
  const room = await createRoom(server.url, owner.token)
  for (const member of [a, b]) await join(server.url, member.token, room.name)

  // The statements as issued: the senders of each batch, the token of the batch it must follow and its own.
  const issued: Array<{ senders: number[], after: unknown, token: unknown }> = []
  let secondIssued!: () => void
  const second = new Promise<void>((resolve) => { secondIssued = resolve })
  let answered: Promise<unknown> = Promise.resolve()
  const query: Query = <T>(text: string, params: unknown[]) => {
    const rows = JSON.parse(params[0] as string) as Array<{ sender_id: number, i: unknown }>
    issued.push({ senders: rows.map((r) => r.sender_id), after: params[1], token: params[2] })
    if (issued.length === 2) secondIssued()
    const first = issued.length === 1
    const run = first
      ? database.writer.query<T>(text, [JSON.stringify(rows.map((r) => ({ ...r, i: 'not a number' }))), ...params.slice(1)])
        .then(() => { throw new Error('the poisoned batch ran') }, async (error: unknown) => { await second; throw failure(error) })
      : database.writer.query<T>(text, params)
    const answer = answered.then(() => run, () => run)
    answered = answer.catch(() => {})
    return answer
  }
  const committed: number[][] = []
  const writer = new MessageWriter({ query, transaction: database.writer.transaction }, 100,
    (batch) => committed.push(batch.map((c) => c.message.seq)))
  const send = (sender: Account, message: string) => writer.send({
    roomId: room.id, roomName: room.name, sender: sender.user, message, messageType: 'text', clientId: message, replyTo: null
  }).then((result) => result.message.seq)
  return { a, b, issued, committed, writer, send, database }
}

t.test('a batch sent behind one with a sender in common commits only after it: a rerun of the first reorders no sender', async (t) => {
  // A real unique violation: what a batch gets when another instance stored one of its client_ids meanwhile.
  const violation: { error?: unknown } = {}
  const { a, b, issued, committed, writer, send, database } = await writerFailingFirst(t, () => violation.error)
  violation.error = await database.query('insert into users (username, password_hash) values ($1, $2)', [a.user.username, 'x'])
    .then(() => undefined, (error: unknown) => error)
  t.ok(violation.error !== undefined, 'the database refused the duplicate')

  const a1 = send(a, 'a1')
  await new Promise((resolve) => setImmediate(resolve))
  const [a2, b1] = [send(a, 'a2'), send(b, 'b1')]
  t.same({ a1: await a1, a2: await a2, b1: await b1 }, { a1: 1, a2: 2, b1: 3 }, 'every sender in order, a1 first')
  t.same(issued.map((i) => i.senders), [[a.user.id], [a.user.id, b.user.id], [a.user.id], [a.user.id, b.user.id]],
    'a1; a2 and b1 at once behind it; a1 again; a2 and b1 again behind it')
  const first = issued[0]!.token
  t.same(issued.map((i) => i.after), [null, first, null, first], 'the second batch followed the first each time')
  t.equal(issued[2]!.token, first, 'a rerun leaves the same token')
  t.same(committed, [[1], [2, 3]], 'published in seq order, once each')
  await writer.idle()
})

t.test('a batch behind one that fails for good stores nothing of it and commits on its own', async (t) => {
  const { a, b, issued, committed, writer, send } = await writerFailingFirst(t, (error) => error)
  const a1 = send(a, 'a1').then(() => 'stored', (error: { code?: string }) => error.code)
  await new Promise((resolve) => setImmediate(resolve))
  const [a2, b1] = [send(a, 'a2'), send(b, 'b1')]
  t.equal(await a1, '22P02', 'a1 failed: its row did not parse')
  t.same({ a2: await a2, b1: await b1 }, { a2: 1, b1: 2 }, 'a2 and b1 stored, from seq 1')
  t.same(issued[1]!.senders, [a.user.id, b.user.id])
  t.equal(issued[1]!.after, issued[0]!.token, 'sent behind a1, to follow it')
  t.equal(issued.at(-1)!.after, null, 'and in the end on its own')
  t.same(committed, [[1, 2]])
  await writer.idle()
})
