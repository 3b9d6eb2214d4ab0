import t, { type Test } from 'tap'
import { api, createRoom, join, openSocket, register, type Account, type SocketClient } from '../helpers/client.js'
import { clusterEnv, spawnInstance, waitUntil, type Instance } from '../helpers/cluster.js'
import {
  ChangeLog, changeFrames, creations, feed, fold, lastRev, logsOnFailure, revBreaks, runLane, seedFromEnv, seeded, sorted,
  typeBreaks, type Lane
} from '../helpers/revs.js'

const EMOJIS = [['👍', ':party:'], ['🎉', '❤️']]

/** A room with an owner and `members` more users, each with a socket, spread over the instances; all joined. */
async function roomOnSockets (t: Test, instances: Instance[], members: number) {
  const owner = await register(instances[0]!.url)
  const room = await createRoom(instances[0]!.url, owner.token)
  const users: Account[] = [owner]
  for (let i = 0; i < members; i++) {
    const user = await register(instances[i % instances.length]!.url)
    await join(instances[i % instances.length]!.url, user.token, room.name)
    users.push(user)
  }
  const sockets = await Promise.all(users.map((user, i) =>
    openSocket(instances[i % instances.length]!.wsUrl, room.name, { token: user.token })))
  t.teardown(() => { for (const socket of sockets) socket.close() })
  // A pong means the socket has joined its room: it is sent every change from now on.
  for (const socket of sockets) {
    socket.send({ type: 'ping' })
    await socket.next((f) => f.type === 'pong', 0, 10_000)
  }
  return { owner, room, users, sockets }
}

/** Each socket has every change up to the room's last rev, and ends in the room's state. */
async function assertInSync (t: Test, sockets: SocketClient[], finalRev: number, state: Map<number, any>,
  owner: Map<number, number>, allowSkip: boolean) {
  const created = creations(owner)
  for (const [i, socket] of sockets.entries()) {
    await socket.until(() => lastRev(socket) >= finalRev, 30_000, `socket ${i} at rev ${finalRev} (has ${lastRev(socket)})`)
      .catch((error: Error) => t.fail(error.message.slice(0, 300)))
    const frames = changeFrames(socket)
    const unexplained = revBreaks(frames, 0, owner, true).length
    const breaks = revBreaks(frames, 0, owner, false).length
    if (!allowSkip && breaks > 0) t.comment(`socket ${i}: ${breaks - unexplained} of ${breaks} gaps skip only revs whose message came later with a higher rev`)
    t.same(revBreaks(frames, 0, owner, allowSkip), [], `socket ${i}: ${allowSkip ? 'every rev, or the later state of its message' : 'revs 1, 2, 3... with no gap'}`)
    // Across an outage, a message whose creation was superseded before the socket caught up comes as its latest
    // change, message_updated: upserting by id still gives the state. Counted, so that it shows in the output.
    const revs = new Set(frames.map((f) => f.rev))
    const excused = (f: any) => allowSkip && f.type === 'message_updated' && !revs.has(created.get(f.id))
    const late = typeBreaks(frames, new Set(), excused).length - typeBreaks(frames).length
    if (late !== 0) t.comment(`socket ${i}: ${-late} new messages first seen as message_updated (their creation superseded)`)
    t.same(typeBreaks(frames, new Set(), excused), [], `socket ${i}: message for a new message, message_updated for a change`)
    t.same(sorted(fold(frames)), sorted(state), `socket ${i}: the state upserted from its frames is changes/?since=0's`)
    t.equal(socket.closeCode, undefined, `socket ${i} stayed open`)
  }
}

const seed = seedFromEnv()
// REVS_GAP_CHECK_MS sets the instances' periodic gap check (default 5 s), to tell its repairs from the reorder wait's.
const gapCheck = process.env.REVS_GAP_CHECK_MS
const { env, redis } = await clusterEnv(t, gapCheck !== undefined ? { GAP_CHECK_INTERVAL_MS: gapCheck } : {})
const instances = await Promise.all([1, 2, 3].map(() => spawnInstance(t, env)))
logsOnFailure(t, instances, seed)
t.comment(`REVS_SEED=${seed}`)

t.test('3 instances, 6 members on sockets, ~300 concurrent sends, edits, deletes and reactions: one gapless rev stream', async (t) => {
  const { owner, room, users, sockets } = await roomOnSockets(t, instances, 5)
  const log = new ChangeLog()
  const work = { room: room.name, log, known: [] as number[], hot: 6, random: seeded(seed), done: () => log.attempts >= 300 }
  // Two lanes per member, each REST request to the next instance: 12 clients at once over all 3 instances.
  const lanes: Lane[] = users.flatMap((user, i) => EMOJIS.map((emojis, l) => ({
    tag: `c${i}.${l}`, user, socket: sockets[i], instances: [...instances.slice(i % 3), ...instances.slice(0, i % 3)], emojis
  })))
  await Promise.all(lanes.map((lane) => runLane(lane, work)))
  t.comment(log.tally())
  t.equal(log.uncertain, 0, 'every request was answered')
  t.same(log.duplicates, [], 'no two answers that changed something carry the same rev')
  t.same(log.surprises, [], 'every 200 to a reaction shows it')

  const final = await feed(instances[1]!.url, owner.token, room.name)
  t.comment(`${log.attempts} operations, ${log.changes} changes, ${final.state.size} messages, ${final.pages} pages of changes/`)
  t.ok(log.changes > 200, `a few hundred changes succeeded (${log.changes})`)
  t.equal(final.rev, log.changes, 'the room\'s rev is the number of changes that succeeded')
  t.same(log.settle(final.state, final.rev), [], 'every rev up to the room\'s is a change some answer made')
  await assertInSync(t, sockets, final.rev, final.state, log.owner, false)
})

t.test('Redis restarts while clients change the room through 2 instances: every socket ends in the server\'s state', async (t) => {
  const { owner, room, users, sockets } = await roomOnSockets(t, instances, 5)
  const [a, b, c] = instances as [Instance, Instance, Instance]
  const log = new ChangeLog()
  let stopped = false
  const work = { room: room.name, log, known: [] as number[], hot: 6, random: seeded(seed + 1), done: () => stopped }
  const through = [a, b]
  const lanes: Lane[] = users.map((user, i) => ({
    tag: `r${i}`, user, socket: i % 3 === 2 ? undefined : sockets[i], instances: i % 2 === 0 ? through : [b, a], emojis: EMOJIS[0]!
  }))
  const running = Promise.all(lanes.map((lane) => runLane(lane, work)))
  const progress = (count: number, what: string) => waitUntil(what, async () => log.attempts >= count, 30_000)
  try {
    await progress(80, '80 operations before the outage')
    const revBefore = (await feed(a.url, owner.token, room.name)).rev
    await redis.stop()
    await waitUntil('readyz 503 on A', async () => (await api(a.url, 'GET', '/readyz')).status === 503, 10_000)
    const during = log.attempts
    await progress(during + 80, '80 operations during the outage')
    t.comment(`Redis stopped at rev >= ${revBefore}, back after ${log.attempts} operations`)
    await redis.start()
    for (const node of instances) await waitUntil('readyz 200', async () => (await api(node.url, 'GET', '/readyz')).status === 200, 20_000)
    await progress(log.attempts + 80, '80 operations after the outage')
  } finally {
    stopped = true
    await running
  }
  t.comment(log.tally())
  t.equal(log.uncertain, 0, 'every request was answered')
  t.same(log.duplicates, [], 'no two answers that changed something carry the same rev')
  t.same(log.surprises, [], 'every 200 to a reaction shows it')
  const final = await feed(c.url, owner.token, room.name)
  t.comment(`${log.attempts} operations, ${log.changes} changes, ${final.state.size} messages`)
  t.equal(final.rev, log.changes, 'the room\'s rev is the number of changes that succeeded: none lost, none made twice')
  t.same(log.settle(final.state, final.rev), [], 'every rev up to the room\'s is a change some answer made')
  await assertInSync(t, sockets, final.rev, final.state, log.owner, true)
})
