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

t.test('a second batch goes behind the one in flight with other senders only, and a rerun of the first reorders no sender', async (t) => {
  const server = await startServer(t)
  const { database } = server.app
  const [owner, a, b] = [await register(server.url), await register(server.url), await register(server.url)]
  const room = await createRoom(server.url, owner.token)
  for (const member of [a, b]) await join(server.url, member.token, room.name)
  // A real unique violation: what a batch gets when another instance stored one of its client_ids meanwhile.
  const violation = await database.query('insert into users (username, password_hash) values ($1, $2)', [a.user.username, 'x'])
    .then(() => undefined, (error: unknown) => error)
  t.ok(violation !== undefined, 'the database refused the duplicate')

  // The writer's statements as issued: the senders of each batch, and how many statements were in flight then.
  const issued: Array<{ senders: number[], inFlight: number }> = []
  const waiting: Array<{ n: number, resolve: () => void }> = []
  const issuedCount = (n: number) => new Promise<void>((resolve) => {
    if (issued.length >= n) resolve()
    else waiting.push({ n, resolve })
  })
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let inFlight = 0
  const query: Query = async <T>(text: string, params: unknown[]) => {
    issued.push({ senders: (JSON.parse(params[0] as string) as Array<{ sender_id: number }>).map((r) => r.sender_id), inFlight })
    for (const w of waiting.filter((w) => issued.length >= w.n)) w.resolve()
    inFlight++
    try {
      // The first batch fails once, after the second has been sent behind it.
      if (issued.length === 1) {
        await held
        throw violation
      }
      return await database.writer.query<T>(text, params)
    } finally {
      inFlight--
    }
  }
  const committed: number[][] = []
  const writer = new MessageWriter({ query, transaction: database.writer.transaction }, 100,
    (batch) => committed.push(batch.map((c) => c.message.seq)))
  const send = (sender: Account, message: string) => writer.send({
    roomId: room.id, roomName: room.name, sender: sender.user, message, messageType: 'text', clientId: message, replyTo: null
  }).then((result) => result.message.seq)

  const a1 = send(a, 'a1')
  await issuedCount(1)
  const [a2, b1] = [send(a, 'a2'), send(b, 'b1')]
  await issuedCount(2)
  t.same(issued[1], { senders: [b.user.id], inFlight: 1 }, 'b1 went behind a1 at once; a2 waits for a1')
  release()
  t.same({ a1: await a1, a2: await a2, b1: await b1 }, { b1: 1, a1: 2, a2: 3 },
    'a1 ran again after b1 had committed, and a2 still came after it')
  t.same(issued.map((i) => i.senders), [[a.user.id], [b.user.id], [a.user.id], [a.user.id]], 'a1, b1, a1 again, a2')
  t.equal(issued[3]!.inFlight, 0, 'a2 was sent once a1 had committed')
  t.same(committed, [[1], [2], [3]], 'published in seq order')
  await writer.idle()
})
