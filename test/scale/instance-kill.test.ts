import t from 'tap'
import { openSocket } from '../helpers/client.js'
import { clusterEnv } from '../helpers/cluster.js'
import { assertComplete, pump, seqsOf, setup } from '../helpers/faults.js'

t.test('kill -9 an instance mid-stream: its clients resume on another with last_seq, nothing lost or repeated', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const listener = await openSocket(a!.wsUrl, room.name, { token: owner.token })
  const sending = await openSocket(b!.wsUrl, room.name, { token: sender.token })
  const total = 300
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
