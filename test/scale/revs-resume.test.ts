import t from 'tap'
import { createRoom, join, openSocket, register, type Account, type SocketClient } from '../helpers/client.js'
import { clusterEnv, spawnInstance, type Instance } from '../helpers/cluster.js'
import {
  ChangeLog, changeFrames, feed, fold, isChange, lastRev, logsOnFailure, revBreaks, runLane, seedFromEnv, seeded,
  sorted, typeBreaks, type Lane, type Workload
} from '../helpers/revs.js'

// 5,000 changes by default; REVS_RESUME_CHANGES makes it smaller on a slow machine.
const CHANGES = Number(process.env.REVS_RESUME_CHANGES ?? 5000)

/** The frames a socket received before the answer to a ping sent now: after a resume, the whole replay. */
async function framesBeforePong (socket: SocketClient, timeoutMs: number): Promise<any[]> {
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong', 0, timeoutMs)
  return socket.frames.slice(0, socket.frames.findIndex((f) => f.type === 'pong'))
}

const seed = seedFromEnv()
const { env } = await clusterEnv(t)
const instances: Instance[] = await Promise.all([1, 2, 3].map(() => spawnInstance(t, env)))
logsOnFailure(t, instances, seed)
t.comment(`REVS_SEED=${seed}`)

t.test(`a client away for ${CHANGES} changes resumes with last_rev on another instance: the replay, then live, exactly in sync`, async (t) => {
  const [a, b] = instances as [Instance, Instance, Instance]
  const owner = await register(a.url)
  const room = await createRoom(a.url, owner.token)
  const writers: Account[] = [owner]
  for (let i = 0; i < 7; i++) {
    const user = await register(instances[i % 3]!.url)
    await join(instances[i % 3]!.url, user.token, room.name)
    writers.push(user)
  }
  const reader = await register(a.url)
  await join(a.url, reader.token, room.name)

  const log = new ChangeLog()
  const random = seeded(seed)
  const known: number[] = []
  const work = (done: () => boolean): Workload => ({ room: room.name, log, known, hot: 8, random, done })
  // Two lanes per writer, with their own emojis, each sending its requests to the next instance: 16 at once.
  const lanes: Lane[] = writers.flatMap((user, i) => [['👍', '🎉'], [':party:', '❤️']].map((emojis, l) => ({
    tag: `w${i}.${l}`, user, instances: [...instances.slice(i % 3), ...instances.slice(0, i % 3)], emojis
  })))

  const before = await openSocket(a.wsUrl, room.name, { token: reader.token })
  await framesBeforePong(before, 10_000)
  await Promise.all(lanes.map((lane) => runLane(lane, work(() => log.attempts >= 100))))
  const R = (await feed(a.url, owner.token, room.name)).rev
  await before.until(() => lastRev(before) >= R, 20_000, `the reader at rev ${R}`)
  before.close()
  await before.waitClose()
  const held = fold(changeFrames(before))

  const started = Date.now()
  await Promise.all(lanes.map((lane) => runLane(lane, work(() => log.changes >= R + CHANGES))))
  const seconds = (Date.now() - started) / 1000
  t.comment(`${log.changes - R} changes after rev ${R} in ${seconds.toFixed(1)} s (${log.attempts} operations in all)`)
  t.comment(log.tally())
  t.equal(log.uncertain, 0, 'every request was answered')
  t.same(log.duplicates, [], 'no two answers that changed something carry the same rev')
  t.same(log.surprises, [], 'every 200 to a reaction shows it')
  const away = await feed(b.url, owner.token, room.name)
  t.equal(away.rev, log.changes, 'the room\'s rev is the number of changes that succeeded')

  const after = await openSocket(b.wsUrl, room.name, { token: reader.token, lastRev: R })
  t.teardown(() => after.close())
  const replay = (await framesBeforePong(after, 60_000)).filter(isChange)
  const expected = [...away.state.values()].filter((m) => m.rev > R).sort((x, y) => x.rev - y.rev)
  t.equal(replay.length, expected.length, `the replay has every message changed after ${R} once (${expected.length})`)
  t.same(replay.map(({ type: _type, ...m }) => m), expected, 'the replay: each in its current state, in rev order')
  t.same(typeBreaks(replay, new Set(held.keys())), [], 'message for the ones created after R, message_updated for older ones')

  // A few live changes after the replay: they follow it with no gap.
  const live = lanes.slice(0, 3)
  const goal = log.attempts + 12
  await Promise.all(live.map((lane) => runLane(lane, work(() => log.attempts >= goal))))
  const final = await feed(a.url, owner.token, room.name)
  t.equal(final.rev, log.changes, 'the room\'s rev is still the number of changes that succeeded')
  t.same(log.settle(final.state, final.rev), [], 'every rev up to the room\'s is a change some answer made')
  await after.until(() => lastRev(after) >= final.rev, 20_000, `the resumed reader at rev ${final.rev}`)
  const frames = changeFrames(after)
  const liveFrames = frames.slice(replay.length)
  t.ok(liveFrames.length > 0, `live frames came after the replay (${liveFrames.length})`)
  t.same(revBreaks(liveFrames, away.rev, log.owner), [], 'live frames: revs go on from the replay\'s last, one by one')
  const seen = new Set<string>()
  const twice = [...changeFrames(before), ...frames].map((f) => `${f.id}@${f.rev}`).filter((key) => seen.has(key) || !seen.add(key))
  t.same(twice, [], 'no frame (id and rev) came twice, before or after the resume')
  t.same(frames.map((f) => f.rev), [...frames.map((f) => f.rev)].sort((x, y) => x - y), 'revs strictly increase')
  t.same(sorted(fold(frames, held)), sorted(final.state), 'the reader\'s upserted state is changes/?since=0\'s')
})
