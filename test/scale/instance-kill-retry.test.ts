import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { openSocket } from '../helpers/client.js'
import { clusterEnv, waitUntil } from '../helpers/cluster.js'
import { assertComplete, history, pump, setup } from '../helpers/faults.js'

t.test('a sender on a killed instance retries its unacked client_ids elsewhere: each is stored once', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], sender, room } = await setup(t, env)
  const first = await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const total = 200
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
