import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { User } from '../schemas/users.js'
import { presenceEvent, type Broker, type ControlEvent, type ControlListener, type RoomEvent, type RoomListener } from './types.js'

export interface RedisBrokerOptions {
  /** Commands and publishes; fails fast while Redis is down (no offline queue). */
  publisher: Redis
  /** A separate connection in subscriber mode. */
  subscriber: Redis
  /** Prefix of every key and channel, so deployments can share one Redis. */
  prefix: string
  log: FastifyBaseLogger
  /** How often this instance says it is alive, and looks for instances that died without saying goodbye. */
  livenessIntervalMs?: number
}

// Adds `delta` to this instance's count of a user's sockets in a room and returns the count over all instances.
// KEYS: the room-user hash (instance → count), this instance's index of room-users. ARGV: instance, delta, index entry.
const PRESENCE_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('SADD', KEYS[2], ARGV[3])
end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total`

// Removes a dead instance's count from a room-user hash; returns the remaining total, or -1 if it was already gone.
const FORGET_SCRIPT = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total`

// The read-frame throttle: 0 when a position as high was announced, 1 when one was announced within the interval,
// else 2, recording this one. KEYS: the room-user key. ARGV: seq, interval ms, how long to remember (ms).
const READ_SCRIPT = `
local last = redis.call('HMGET', KEYS[1], 'seq', 'at')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if last[1] and tonumber(last[1]) >= tonumber(ARGV[1]) then return 0 end
if last[2] and now - tonumber(last[2]) < tonumber(ARGV[2]) then return 1 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 2`
/** How long the last read position announced is remembered: far longer than any announcement is delayed. */
const READ_MEMORY_MS = 60_000

/**
 * Redis pub/sub between instances. Each instance subscribes to a room's channel only while it has sockets in the
 * room. A publisher delivers to its own sockets directly, so its clients keep chatting while Redis is down, and skips
 * its own echo from Redis. Lost events are not repaired here: the hub notices the gap in rev (or is told on
 * recovery) and reads the missing messages from the database.
 */
export async function createRedisBroker (options: RedisBrokerOptions): Promise<Broker> {
  const { publisher, subscriber, prefix, log } = options
  const instance = randomBytes(8).toString('hex')
  const roomChannel = (roomId: number) => `${prefix}room:${roomId}`
  const controlChannel = `${prefix}control`
  const roomOf = new Map<string, number>()
  const subscribed = new Set<number>()
  let roomListener: RoomListener = () => {}
  let controlListener: ControlListener = () => {}
  let recoverListener: () => void = () => {}

  // Wire format: `<instance> m<rev>,<id>,<seq>,<c|u> <frame>` for a message or a change (its frame as is: nothing
  // to escape or parse on the busiest path), `<instance> <json event>` for the others.
  const encode = (event: RoomEvent | ControlEvent) => event.type === 'message'
    ? `${instance} m${event.rev},${event.id},${event.seq},${event.created ? 'c' : 'u'} ${event.frame}`
    : `${instance} ${JSON.stringify(event)}`
  const decode = (body: string): unknown => {
    if (!body.startsWith('m')) return JSON.parse(body)
    const space = body.indexOf(' ')
    const [rev, id, seq, kind] = body.slice(1, space).split(',')
    const numbers = [rev, id, seq].map(Number)
    if (space < 0 || !numbers.every(Number.isSafeInteger) || (kind !== 'c' && kind !== 'u')) throw new Error('unreadable message event')
    return { type: 'message', rev: numbers[0], id: numbers[1], seq: numbers[2], created: kind === 'c', frame: body.slice(space + 1) }
  }
  subscriber.on('message', (channel: string, payload: string) => {
    const space = payload.indexOf(' ')
    if (payload.slice(0, space) === instance) return
    let event: unknown
    try {
      event = decode(payload.slice(space + 1))
    } catch {
      log.warn({ channel }, 'unreadable broker event')
      return
    }
    if (channel === controlChannel) return controlListener(event as ControlEvent)
    const roomId = roomOf.get(channel)
    if (roomId !== undefined) roomListener(roomId, event as RoomEvent)
  })

  // After an outage, events published meanwhile are gone: the hub re-reads what it may have missed.
  let wasDown = false
  subscriber.on('close', () => { wasDown = true })
  subscriber.on('ready', () => {
    if (!wasDown) return
    wasDown = false
    log.info('broker reconnected')
    recoverListener()
  })
  for (const client of [publisher, subscriber]) {
    client.on('error', (error: Error) => log.warn({ err: error }, 'redis error'))
  }

  // Liveness: a key with a TTL per instance; a dead instance's presence counts are removed by whoever notices.
  const interval = options.livenessIntervalMs ?? 10_000
  const aliveKey = (id: string) => `${prefix}instance:${id}`
  const indexKey = (id: string) => `${prefix}instance-presence:${id}`
  const presenceKey = (roomId: number, userId: number) => `${prefix}presence:${roomId}:${userId}`
  const beat = async () => {
    await publisher.set(aliveKey(instance), '1', 'PX', interval * 3)
    await publisher.sadd(`${prefix}instances`, instance)
    for (const id of await publisher.smembers(`${prefix}instances`)) {
      if (id !== instance && await publisher.exists(aliveKey(id)) === 0) await forgetInstance(id)
    }
  }
  const forgetInstance = async (id: string) => {
    for (const entry of await publisher.smembers(indexKey(id))) {
      const [roomId, user] = JSON.parse(entry) as [number, User]
      const total = await publisher.eval(FORGET_SCRIPT, 1, presenceKey(roomId, user.id), id) as number
      if (total === 0) await broker.publishRoom(roomId, presenceEvent(user, false))
    }
    await publisher.del(indexKey(id))
    await publisher.srem(`${prefix}instances`, id)
  }
  const timer = setInterval(() => {
    beat().catch((error: unknown) => log.debug({ err: error }, 'liveness beat failed'))
  }, interval).unref()
  void beat().catch(() => {})

  const broker: Broker = {
    kind: 'redis',
    async publishRoom (roomId, event) {
      if (subscribed.has(roomId)) roomListener(roomId, event)
      await publisher.publish(roomChannel(roomId), encode(event))
    },
    async publishControl (event) {
      controlListener(event)
      await publisher.publish(controlChannel, encode(event))
    },
    async subscribeRoom (roomId) {
      subscribed.add(roomId)
      roomOf.set(roomChannel(roomId), roomId)
      const done = subscriber.subscribe(roomChannel(roomId))
      // While Redis is down the subscription waits for the reconnect; the room works locally meanwhile.
      if (subscriber.status === 'ready') await done
      else done.catch(() => {})
    },
    async unsubscribeRoom (roomId) {
      subscribed.delete(roomId)
      roomOf.delete(roomChannel(roomId))
      if (subscriber.status === 'ready') await subscriber.unsubscribe(roomChannel(roomId))
    },
    onRoomEvent (listener) { roomListener = listener },
    onControlEvent (listener) { controlListener = listener },
    onRecover (listener) { recoverListener = listener },
    async presence (roomId, user, delta) {
      const total = await publisher.eval(PRESENCE_SCRIPT, 2, presenceKey(roomId, user.id), indexKey(instance),
        instance, delta, JSON.stringify([roomId, user])) as number
      return delta === 1 ? total === 1 : total === 0
    },
    async allowTyping (roomId, userId, intervalMs) {
      if (intervalMs <= 0) return true
      return await publisher.set(`${prefix}typing:${roomId}:${userId}`, '1', 'PX', intervalMs, 'NX') === 'OK'
    },
    async allowRead (roomId, userId, seq, intervalMs) {
      const verdict = await publisher.eval(READ_SCRIPT, 1, `${prefix}read:${roomId}:${userId}`, seq, intervalMs, READ_MEMORY_MS) as number
      return verdict === 2 ? 'send' : verdict === 1 ? 'later' : 'stale'
    },
    async online (roomId, userIds) {
      if (userIds.length === 0) return new Set()
      const pipeline = publisher.pipeline()
      for (const userId of userIds) pipeline.hlen(presenceKey(roomId, userId))
      const counts = await pipeline.exec() ?? []
      return new Set(userIds.filter((_, i) => {
        const [error, count] = counts[i] ?? [null, 0]
        if (error !== null) throw error
        return Number(count) > 0
      }))
    },
    hearsControl: () => subscriber.status === 'ready' && !wasDown,
    async ping () { await publisher.ping() },
    async close () {
      clearInterval(timer)
      // Saying goodbye: nobody has to wait for this instance's liveness key to expire.
      await forgetInstance(instance).catch(() => {})
      await publisher.del(aliveKey(instance)).catch(() => {})
      subscriber.disconnect()
    }
  }
  await subscriber.subscribe(controlChannel)
  return broker
}
