import t from 'tap'
import { api, openSocket, type SocketClient } from '../helpers/client.js'
import { clusterEnv, waitUntil } from '../helpers/cluster.js'
import { assertComplete, history, pump, seqsOf, setup } from '../helpers/faults.js'

/**
 * The frames a fresh socket received from its opening to the answer to a ping sent now: after a resume, the whole
 * replay. From its opening, not from the ping: on a loaded machine the replay can arrive before the test sends it.
 */
async function framesBeforePong (socket: SocketClient): Promise<any[]> {
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong', 0, 20_000)
  return socket.frames.slice(0, socket.frames.findIndex((f) => f.type === 'pong'))
}

t.test('resume with last_seq on an instance whose stream lags the database: no message twice, none missing', async (t) => {
  // No periodic gap check during the test: the lag lasts until Redis is back and a message event shows the gap.
  const { env, redis } = await clusterEnv(t, { GAP_CHECK_INTERVAL_MS: '600000' })
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const listener = await openSocket(a!.wsUrl, room.name, { token: owner.token })
  const sending = await openSocket(b!.wsUrl, room.name, { token: sender.token })
  t.equal((await pump(sending, 'before', 10, 4)).acked.size, 10)
  await listener.messageCount(10, 20_000)
  // Redis down: B stores and acks, A's stream of the room stays at 10.
  await redis.stop()
  t.equal((await pump(sending, 'during', 30, 4)).acked.size, 30, 'sends are stored while Redis is down')
  t.equal(seqsOf(listener).length, 10, 'the other instance lags behind the database')
  t.equal((await history(b!.url, owner.token, room.name)).length, 40)

  const ahead = await openSocket(a!.wsUrl, room.name, { token: owner.token, lastSeq: 25 })
  t.same((await framesBeforePong(ahead)).map((f) => f.seq), Array.from({ length: 15 }, (_, k) => 26 + k),
    'a client at 25 gets 26..40 from the database, not the instance\'s 11..25 again')
  const current = await openSocket(a!.wsUrl, room.name, { token: owner.token, lastSeq: 40 })
  t.same(await framesBeforePong(current), [], 'a client that has everything is sent nothing')

  await redis.start()
  // With the periodic gap check off, the catch-up comes from the broker's recovery: wait for it on both.
  for (const node of [a, b]) await waitUntil('broker back', async () => (await api(node!.url, 'GET', '/readyz')).status === 200)
  t.equal((await pump(sending, 'after', 10, 4)).acked.size, 10)
  for (const [what, socket, from] of [['the listener', listener, 0], ['the resumed client', ahead, 25], ['the current one', current, 40]] as const) {
    await socket.until(() => seqsOf(socket).at(-1) === 50, 20_000, `${what} up to 50 (at ${seqsOf(socket).at(-1)})`)
    t.same(seqsOf(socket), Array.from({ length: 50 - from }, (_, k) => from + k + 1), `${what}: every seq after ${from} once, in order`)
  }
  assertComplete(t, seqsOf(listener), 50, 'the listener')
  for (const socket of [listener, sending, ahead, current]) socket.close()
})
