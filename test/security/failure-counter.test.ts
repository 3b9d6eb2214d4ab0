import { Redis } from 'ioredis'
import t from 'tap'
import { createRedisCounter } from '../../src/lib/failure-counter.js'
import { redisPrefix, startRedis, waitUntil } from '../helpers/cluster.js'

/** How many GET commands the Redis server has run (each peek is one GET in a MULTI). */
async function gets (redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats')
  return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

t.test('the Redis failure counter shares concurrent reads of a key and misses no count', async (t) => {
  const server = await startRedis(t)
  // As the server's publisher: no offline queue, so a command fails at once while Redis is down.
  const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true })
  await redis.connect()
  t.teardown(() => { redis.disconnect() })
  const counter = createRedisCounter(redis, redisPrefix(), 60_000)
  t.teardown(() => counter.close())

  await t.test('100 peeks of one key at once: one read, one answer', async (t) => {
    const before = await gets(redis)
    const answers = await Promise.all(Array.from({ length: 100 }, () => counter.peek('storm')))
    t.equal(await gets(redis) - before, 1, 'one GET')
    t.same(new Set(answers.map((answer) => answer.count)), new Set([0]), 'all of them 0')
  })

  await t.test('a count answered before a peek is seen by it, even with a read of that key in flight', async (t) => {
    const inFlight = counter.peek('k')
    const added = await counter.add('k')
    t.equal(added.count, 1)
    t.equal((await inFlight).count, 0, 'the read sent before the count')
    t.equal((await counter.peek('k')).count, 1, 'the peek after it')
    await Promise.all([counter.add('k'), counter.add('k')])
    const [a, b] = await Promise.all([counter.peek('k'), counter.peek('k')])
    t.equal(a.count, 3)
    t.equal(b.count, 3)
    t.ok(a.retryAfter >= 1 && a.retryAfter <= 60, 'with the seconds left in the window')
  })

  await t.test('while Redis is down nothing is refused, and a read is tried again once it is back', async (t) => {
    await server.stop()
    const answer = await counter.peek('k')
    t.equal(answer.count, 0, 'unknown counts as none')
    await server.start()
    await waitUntil('the client to reconnect', async () => await redis.ping().catch(() => '') === 'PONG')
    await counter.add('back')
    t.equal((await counter.peek('back')).count, 1)
  })
})
