import t from 'tap'
import { api, openSocket } from '../helpers/client.js'
import { clusterEnv, waitUntil } from '../helpers/cluster.js'
import { assertComplete, pump, seqsOf, setup } from '../helpers/faults.js'

t.test('Redis restarts mid-stream: once it is back, every client has every message, in order', async (t) => {
  const { env, redis } = await clusterEnv(t, { GAP_CHECK_INTERVAL_MS: '500' })
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const listener = await openSocket(a!.wsUrl, room.name, { token: owner.token })
  const sending = await openSocket(b!.wsUrl, room.name, { token: sender.token })
  const firstHalf = await pump(sending, 'h1', 100, 8)
  t.equal(firstHalf.acked.size, 100)
  await listener.messageCount(100, 30_000)
  await redis.stop()
  const ready = await api(b!.url, 'GET', '/readyz')
  t.equal(ready.status, 503, '/readyz says the broker is down')
  t.match(ready.body, { code: 'unavailable', detail: /broker/ })
  const secondHalf = await pump(sending, 'h2', 100, 8)
  t.equal(secondHalf.acked.size, 100, 'sends are stored and acked on their own instance while Redis is down')
  await redis.start()
  const thirdPart = await pump(sending, 'h3', 50, 8)
  t.equal(thirdPart.acked.size, 50)
  await listener.messageCount(250, 30_000)
  assertComplete(t, seqsOf(listener), 250, 'the listener on the other instance')
  await waitUntil('readyz ok', async () => (await api(b!.url, 'GET', '/readyz')).status === 200)
  listener.close()
  sending.close()
})
