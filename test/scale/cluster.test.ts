import t, { type Test } from 'tap'
import { api, createRoom, join, openSocket, register, type SocketClient } from '../helpers/client.js'
import { clusterEnv, spawnInstance, type Instance } from '../helpers/cluster.js'

/** Every client saw seq 1..count exactly once, in order. */
function assertGapless (t: Test, clients: SocketClient[], count: number) {
  for (const [i, client] of clients.entries()) {
    const seqs = client.messages().map((m) => m.seq)
    t.same(seqs, Array.from({ length: count }, (_, k) => k + 1), `client ${i} saw 1..${count} once each, in order`)
  }
}

t.test('three instances on one database and one Redis behave as one server', async (t) => {
  const { env } = await clusterEnv(t)
  const instances: Instance[] = await Promise.all([1, 2, 3].map(() => spawnInstance(t, env)))
  const [a, b, c] = instances as [Instance, Instance, Instance]

  const owner = await register(a.url)
  const room = await createRoom(a.url, owner.token)
  const senders = await Promise.all([1, 2, 3, 4, 5].map(() => register(b.url)))
  for (const sender of senders) await join(c.url, sender.token, room.name)

  await t.test('5 senders × 200 messages through different instances: every client sees one gapless order', async (t) => {
    const listeners = await Promise.all(instances.map((instance) => openSocket(instance.wsUrl, room.name, { token: owner.token })))
    const sockets = await Promise.all(senders.map((sender, i) =>
      openSocket(instances[i % 3]!.wsUrl, room.name, { token: sender.token })))
    for (const [i, socket] of sockets.entries()) {
      for (let k = 0; k < 200; k++) socket.send({ message: `m ${i}.${k}`, client_id: `${i}-${k}` })
    }
    const everyone = [...listeners, ...sockets]
    await Promise.all(everyone.map((client) => client.messageCount(1000, 60_000)))
    assertGapless(t, everyone, 1000)
    // Each sender's own messages keep the order it sent them in.
    for (const [i] of sockets.entries()) {
      const mine = listeners[0]!.messages().filter((m) => m.client_id?.startsWith(`${i}-`)).map((m) => m.client_id)
      t.same(mine, Array.from({ length: 200 }, (_, k) => `${i}-${k}`), `sender ${i} in send order`)
    }
    const history = await api(c.url, 'GET', `/api/chat/groups/${room.name}/messages/?limit=1`, { token: owner.token })
    t.equal(history.body.results[0].seq, 1000, 'history agrees on the last seq')
    for (const client of everyone) client.close()
  })

  await t.test('logout on one instance closes the same token\'s socket on another with 4401', async (t) => {
    const login = await api(a.url, 'POST', '/api/auth/login/', { body: { username: senders[0]!.user.username, password: 'correct horse' } })
    const token = login.body.token as string
    const onB = await openSocket(b.wsUrl, room.name, { token })
    const other = await openSocket(b.wsUrl, room.name, { token: senders[0]!.token })
    t.equal((await api(a.url, 'POST', '/api/auth/logout/', { token })).status, 204)
    t.equal((await onB.waitClose()).code, 4401)
    t.equal(other.closeCode, undefined, 'another token of the same user stays open')
    other.close()
  })

  await t.test('removal on one instance closes the socket on another with 4403; deletion closes all with 4404', async (t) => {
    const member = senders[1]!
    const onC = await openSocket(c.wsUrl, room.name, { token: member.token })
    const ownerOnB = await openSocket(b.wsUrl, room.name, { token: owner.token })
    t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/members/${member.user.username}/`, { token: owner.token })).status, 204)
    t.equal((await onC.waitClose()).code, 4403)
    t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/`, { token: owner.token })).status, 204)
    t.equal((await ownerOnB.waitClose()).code, 4404)
  })

  await t.test('presence: a user\'s first socket anywhere says online, their last says offline', async (t) => {
    const other = await createRoom(a.url, owner.token)
    const guest = senders[2]!
    await join(a.url, guest.token, other.name)
    const watcher = await openSocket(a.wsUrl, other.name, { token: owner.token })
    const first = await openSocket(b.wsUrl, other.name, { token: guest.token })
    await watcher.next((f) => f.type === 'presence' && f.user.id === guest.user.id && f.online === true)
    const second = await openSocket(c.wsUrl, other.name, { token: guest.token })
    // A pong means the second socket has joined its room (frames wait for the join): the two overlap.
    second.send({ type: 'ping' })
    await second.next((f) => f.type === 'pong')
    first.close()
    await first.waitClose()
    second.close()
    await second.waitClose()
    await watcher.next((f) => f.type === 'presence' && f.user.id === guest.user.id && f.online === false)
    const presence = watcher.frames.filter((f) => f.type === 'presence' && f.user.id === guest.user.id)
    t.same(presence.map((f) => f.online), [true, false], 'one online, one offline, for two sockets on two instances')
    watcher.close()
  })
})
