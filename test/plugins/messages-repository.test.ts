import t from 'tap'
import { api, createRoom, join, openSocket, register, type SocketClient } from '../helpers/client.js'
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
