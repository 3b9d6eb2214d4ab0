import t from 'tap'
import { openSocket } from '../helpers/client.js'
import { clusterEnv } from '../helpers/cluster.js'
import { history, pump, setup } from '../helpers/faults.js'

/** Error-level lines of an instance's log (pino level 50 and above). */
const errorLines = (output: string) => output.split('\n').filter((line) => /"level":(50|60)/.test(line))

t.test('the same client_ids sent on two instances at once: each stored once, every send acked, no error logged', async (t) => {
  const { env } = await clusterEnv(t, { MESSAGE_BURST: '10000' })
  const { nodes: [a, b], sender, room } = await setup(t, env)
  const total = 600
  const sockets = await Promise.all([a, b, a, b].map((node) => openSocket(node!.wsUrl, room.name, { token: sender.token })))
  // Clients that resend on another instance what they are not sure was stored, while the first is still at it.
  const results = await Promise.all(sockets.map((socket) => pump(socket, 'c', total, 128)))
  sockets.forEach((socket, i) => {
    t.equal(socket.closeCode, undefined, `socket ${i} stays open`)
    t.equal(results[i]!.acked.size, total, `every send on socket ${i} acked`)
  })
  const stored = await history(a!.url, sender.token, room.name)
  t.equal(stored.length, total, 'each client_id stored once')
  t.equal(new Set(stored.map((m) => m.client_id)).size, total)
  t.same(errorLines(a!.output()), [], 'nothing logged as an error on A')
  t.same(errorLines(b!.output()), [], 'nothing logged as an error on B')
  for (const socket of sockets) socket.close()
})
