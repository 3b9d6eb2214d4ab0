import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { lookups, refused, upgradeOnce } from '../helpers/access.js'
import { api, createRoom, join, openSocket, register, roomWith, type Account } from '../helpers/client.js'
import { clusterEnv, spawnInstance, waitUntil, type Instance } from '../helpers/cluster.js'

const METRICS_TOKEN = randomBytes(16).toString('hex')
// The periodic gap check would deliver a message without the broker: here only the broker may.
const { env, redis } = await clusterEnv(t, { METRICS_TOKEN, GAP_CHECK_INTERVAL_MS: '600000' })
const [a, b] = await Promise.all([spawnInstance(t, env), spawnInstance(t, env)]) as [Instance, Instance]

/** Upgrades twice on `instance`: the second is answered from its cache (checked), so the admission is cached. */
async function cacheOn (t: Test, instance: Instance, room: string, account: Account) {
  await upgradeOnce(instance.wsUrl, room, account.token)
  const before = await lookups(instance.url, METRICS_TOKEN)
  await upgradeOnce(instance.wsUrl, room, account.token)
  t.equal((await lookups(instance.url, METRICS_TOKEN)).hit - before.hit, 2, `${account.user.username} cached on ${instance.url}`)
}

/**
 * Control events from one instance arrive at another in the order they were published: once a logout published
 * after `what` has closed a socket on `on`, `on` has heard `what` too.
 */
async function heardOn (on: Instance, from: Instance) {
  const sentinel = await register(from.url)
  const room = await createRoom(from.url, sentinel.token)
  const socket = await openSocket(on.wsUrl, room.name, { token: sentinel.token })
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong')
  await api(from.url, 'POST', '/api/auth/logout/', { token: sentinel.token })
  return (await socket.waitClose()).code
}

t.test('logout on one instance: the token cached on another is refused there with 401', async (t) => {
  const { owner, room } = await roomWith(a.url, 0)
  const login = await api(a.url, 'POST', '/api/auth/login/', { body: { username: owner.user.username, password: 'correct horse' } })
  const second: Account = { token: login.body.token, user: owner.user }
  await cacheOn(t, b, room.name, second)
  const open = await openSocket(b.wsUrl, room.name, { token: second.token })
  t.equal((await api(a.url, 'POST', '/api/auth/logout/', { token: second.token })).status, 204)
  t.equal((await open.waitClose()).code, 4401, 'the socket on the other instance closes')
  await refused(t, b.wsUrl, room.name, second.token, 401, 'a new upgrade there is refused before the upgrade')
  await upgradeOnce(b.wsUrl, room.name, owner.token)
})

t.test('removal and deletion on one instance: the membership cached on another admits no more', async (t) => {
  const { owner, room, members: [member] } = await roomWith(a.url, 1)
  await cacheOn(t, b, room.name, member!)
  await cacheOn(t, b, room.name, owner)
  // No socket of the room is open on b: it hears of the removal by the control event alone.
  t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/members/${member!.user.username}/`, { token: owner.token })).status, 204)
  t.equal(await heardOn(b, a), 4401)
  await refused(t, b.wsUrl, room.name, member!.token, 403, 'the removed member gets 403')
  t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/`, { token: owner.token })).status, 204)
  t.equal(await heardOn(b, a), 4401)
  await refused(t, b.wsUrl, room.name, owner.token, 404, 'the deleted room is not found')
})

t.test('Redis down: nothing cached is served; back: what was cached before is read again', async (t) => {
  const { owner, room, members: [early, late] } = await roomWith(a.url, 2)
  await cacheOn(t, b, room.name, early!)
  const watch = await createRoom(a.url, owner.token)
  await join(a.url, late!.token, watch.name)
  const sender = await openSocket(a.wsUrl, watch.name, { token: owner.token })
  const receiver = await openSocket(b.wsUrl, watch.name, { token: late!.token })

  // A removal while Redis is down is published to nobody.
  await redis.stop()
  t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/members/${early!.user.username}/`, { token: owner.token })).status, 204)
  await redis.start()
  // b's broker is back once a message sent on a reaches b's socket (the gap check is off). One published before b
  // has subscribed again is lost: another follows, a bounded number of times.
  await waitUntil('a ready', async () => (await fetch(`${a.url}/readyz`)).ok)
  for (let attempt = 0; ; attempt++) {
    sender.send({ message: 'back?', client_id: `back-${attempt}` })
    const heard = await receiver.next((f) => f.type === 'message' && f.client_id === `back-${attempt}`, 0, 2000)
      .then(() => true, () => false)
    if (heard) break
    if (attempt === 10) throw new Error('b never heard from a after Redis came back')
  }
  await refused(t, b.wsUrl, room.name, early!.token, 403, 'the removal lost with the outage is seen: 403')

  await cacheOn(t, b, room.name, late!)
  await redis.stop()
  t.equal((await api(a.url, 'DELETE', `/api/chat/groups/${room.name}/members/${late!.user.username}/`, { token: owner.token })).status, 204)
  const before = await lookups(b.url, METRICS_TOKEN)
  await refused(t, b.wsUrl, room.name, late!.token, 403, 'while Redis is down the database answers: 403')
  t.equal((await lookups(b.url, METRICS_TOKEN)).bypass - before.bypass, 1, 'bypassing the cache')
  await redis.start()
  sender.close()
  receiver.close()
})
