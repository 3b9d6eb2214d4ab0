import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { openSocket } from '../helpers/client.js'
import { clusterEnv, waitUntil } from '../helpers/cluster.js'
import { assertComplete, history, pump, seqsOf, setup } from '../helpers/faults.js'

t.test('kill -9 an instance mid-stream: its clients resume on another with last_seq, nothing lost or repeated', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const listener = await openSocket(a!.wsUrl, room.name, { token: owner.token })
  const sending = await openSocket(b!.wsUrl, room.name, { token: sender.token })
  const total = 400
  const pumping = pump(sending, 's', total, 8)
  await listener.messageCount(100, 30_000)
  a!.child.kill('SIGKILL')
  await listener.waitClose()
  const before = seqsOf(listener)
  const resumed = await openSocket(b!.wsUrl, room.name, { token: owner.token, lastSeq: before.at(-1)! })
  const { acked } = await pumping
  t.equal(acked.size, total, 'every send acked by the surviving instance')
  await resumed.messageCount(total - before.length, 30_000)
  assertComplete(t, [...before, ...seqsOf(resumed)], total, 'the listener')
  resumed.close()
  sending.close()
})

t.test('a sender on a killed instance retries its unacked client_ids elsewhere: each is stored once', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], sender, room } = await setup(t, env)
  const first = await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const total = 300
  const pumping = pump(first, 'r', total, 32)
  await first.until(() => first.frames.length > 0 || first.closeCode !== undefined, 30_000)
  await delay(50) // mid-stream: the kill lands while sends are in flight
  a!.child.kill('SIGKILL')
  const { acked } = await pumping
  const retry = await openSocket(b!.wsUrl, room.name, { token: sender.token })
  for (let k = 0; k < total; k++) {
    if (!acked.has(`r-${k}`)) retry.send({ message: `r ${k}`, client_id: `r-${k}` })
  }
  const stored = async () => (await history(b!.url, sender.token, room.name)).length
  await waitUntil('all retries stored', async () => await stored() === total, 30_000)
  const messages = await history(b!.url, sender.token, room.name)
  t.equal(new Set(messages.map((m) => m.client_id)).size, total, 'each client_id stored exactly once')
  for (const id of acked) t.ok(messages.some((m) => m.client_id === id), `acked ${id} is stored`)
  assertComplete(t, messages.map((m) => m.seq), total, 'history')
  retry.close()
})

t.test('presence: an instance killed without goodbye has its users marked offline by the others', async (t) => {
  const { env } = await clusterEnv(t, { INSTANCE_HEARTBEAT_MS: '200' })
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const watcher = await openSocket(b!.wsUrl, room.name, { token: owner.token })
  await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const isPresence = (online: boolean) => (f: any) => f.type === 'presence' && f.user.id === sender.user.id && f.online === online
  await watcher.next(isPresence(true), 0, 10_000)
  a!.child.kill('SIGKILL')
  await watcher.next(isPresence(false), 0, 10_000)
  t.same(watcher.frames.filter((f) => f.type === 'presence' && f.user.id === sender.user.id).map((f) => f.online), [true, false],
    'online once, then offline once the dead instance is noticed')
  watcher.close()
})
