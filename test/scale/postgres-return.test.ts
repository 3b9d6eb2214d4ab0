import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { openSocket, type SocketClient } from '../helpers/client.js'
import { clusterEnv, startPostgres, waitUntil } from '../helpers/cluster.js'
import { assertComplete, history, setup } from '../helpers/faults.js'

// Generous for a loaded 2-core machine; before the fix, answers and deliveries waited 10-20 s.
const ANSWER_BOUND_MS = 4000

/** Sends on a socket at a steady pace and records when each send was made and answered (ack or error frame). */
function steadySender (socket: SocketClient, tag: string) {
  const sentAt = new Map<string, number>()
  const answeredAt = new Map<string, number>()
  const acked = new Set<string>()
  socket.socket.on('message', (data) => {
    const frame = JSON.parse(data.toString())
    const id = frame.client_id
    if (typeof id !== 'string' || !sentAt.has(id) || answeredAt.has(id)) return
    if (frame.type === 'message' || frame.type === 'error') answeredAt.set(id, performance.now())
    if (frame.type === 'message') acked.add(id)
  })
  let k = 0
  let running = true
  const loop = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- `running` is cleared by stop() while this loop awaits
    while (running) {
      const id = `${tag}-${k++}`
      sentAt.set(id, performance.now())
      socket.send({ message: id, client_id: id })
      await delay(25) // the pace of the traffic, not a synchronization
    }
  })()
  return {
    sentAt,
    answeredAt,
    acked,
    async stop () { running = false; await loop }
  }
}

t.test('PostgreSQL stops for a few seconds: every send is answered promptly, during the outage and after it', async (t) => {
  const pg = await startPostgres(t)
  const { env } = await clusterEnv(t, { GAP_CHECK_INTERVAL_MS: '500' })
  const { nodes: [a, b], owner, sender, room } = await setup(t, { ...env, DATABASE_URL: pg.url })
  const listener = await openSocket(b!.wsUrl, room.name, { token: owner.token })
  const senders = [
    steadySender(await openSocket(a!.wsUrl, room.name, { token: sender.token }), 'a'),
    steadySender(await openSocket(b!.wsUrl, room.name, { token: owner.token }), 'b')
  ]
  await listener.messageCount(20, 20_000)
  await pg.stop()
  await delay(3000) // the outage lasts this long
  await pg.start()
  const backAt = performance.now()
  // Traffic goes on after the return, then stops; every send made must be answered.
  await waitUntil('sends acked again after the return', async () =>
    senders.every((s) => [...s.acked].some((id) => s.sentAt.get(id)! > backAt)), 20_000)
  const deliveredAfter = performance.now()
  await delay(500)
  for (const s of senders) await s.stop()
  await waitUntil('every send answered', async () => senders.every((s) => s.answeredAt.size === s.sentAt.size), 20_000)
    .catch(() => {})
  for (const s of senders) {
    const late = [...s.sentAt].filter(([id, at]) => {
      const answered = s.answeredAt.get(id)
      // Sent during the outage: answered by `unavailable` within the bound. After it: acked within the bound.
      return answered === undefined || answered - Math.max(at, backAt) > ANSWER_BOUND_MS
    })
    t.same(late.map(([id]) => id), [], `every send answered within ${ANSWER_BOUND_MS} ms (or of the database's return)`)
  }
  t.ok(deliveredAfter - backAt < 2 * ANSWER_BOUND_MS, 'sending works again within seconds of the return')
  // The stream of the room on each instance resumes: the listener gets every stored message once, in order.
  const stored = await history(b!.url, owner.token, room.name)
  await listener.until(() => listener.messages().length >= stored.length, 2 * ANSWER_BOUND_MS,
    `the listener catching up to ${stored.length} (has ${listener.messages().length}, closed ${listener.closeCode})`)
  assertComplete(t, listener.messages().map((m) => m.seq), stored.length, 'the listener')
  const storedIds = new Set(stored.map((m) => m.client_id))
  for (const s of senders) for (const id of s.acked) t.ok(storedIds.has(id), `acked ${id} is stored`)
})
