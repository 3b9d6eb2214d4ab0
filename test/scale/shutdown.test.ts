import t from 'tap'
import { openSocket, refusal } from '../helpers/client.js'
import { clusterEnv } from '../helpers/cluster.js'
import { history, pump, setup } from '../helpers/faults.js'

t.test('SIGTERM: clients get 1001, the process exits 0, and nothing acked is lost', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const listener = await openSocket(a!.wsUrl, room.name, { token: owner.token })
  const sending = await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const pumping = pump(sending, 'g', 1000, 16)
  await listener.messageCount(50, 30_000)
  const termAt = Date.now()
  a!.child.kill('SIGTERM')
  // Clients reconnect at once while the server is closing: each is refused with 503, and none holds the server up.
  const early = await listener.waitClose(10_000)
  const refusals = await Promise.all(Array.from({ length: 5 }, () => refusal(openSocket(a!.wsUrl, room.name, { token: owner.token }))
    .catch((error: Error) => ({ status: 0, body: error.message }))))
  for (const refused of refusals) {
    // 0: the listener had closed already (connection refused), which is as good.
    t.ok(refused.status === 503 || refused.status === 0, `a handshake while closing: ${refused.status}`)
    if (refused.status === 503) t.match(refused.body, { code: 'unavailable' })
  }
  t.equal(early.code, 1001)
  t.equal((await sending.waitClose(10_000)).code, 1001)
  t.ok(Date.now() - termAt < 3000, `sockets closed within a second or so (${Date.now() - termAt} ms)`)
  t.equal(await a!.exited, 0, 'exit code 0')
  t.ok(Date.now() - termAt < 5000, `the process exited within seconds (${Date.now() - termAt} ms)`)
  t.same(a!.output().split('\n').filter((line) => /"level":(50|60)/.test(line)), [], 'nothing logged as an error')
  const { acked } = await pumping
  const stored = new Set((await history(b!.url, owner.token, room.name)).map((m) => m.client_id))
  t.ok(acked.size > 0)
  for (const id of acked) t.ok(stored.has(id), `acked ${id} is stored`)
})
