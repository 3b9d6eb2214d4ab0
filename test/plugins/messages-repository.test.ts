import t from 'tap'
import { api, createRoom, join, openSocket, register, type Account, type SocketClient } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

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
