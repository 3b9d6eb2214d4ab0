import type { Broker, ControlListener, RoomListener } from './types.js'

/** How long the last read position announced is remembered: far longer than any announcement is delayed. */
const READ_MEMORY_MS = 60_000

/** One process: events go straight to this process's listeners. */
export function createMemoryBroker (): Broker {
  const subscribed = new Set<number>()
  const sockets = new Map<string, number>()
  const typedAt = new Map<string, number>()
  const readAt = new Map<string, { at: number, seq: number }>()
  let roomListener: RoomListener = () => {}
  let controlListener: ControlListener = () => {}
  return {
    kind: 'memory',
    async publishRoom (roomId, event) {
      if (subscribed.has(roomId)) roomListener(roomId, event)
    },
    async publishControl (event) { controlListener(event) },
    async subscribeRoom (roomId) { subscribed.add(roomId) },
    async unsubscribeRoom (roomId) { subscribed.delete(roomId) },
    onRoomEvent (listener) { roomListener = listener },
    onControlEvent (listener) { controlListener = listener },
    onRecover () {},
    async presence (roomId, user, delta) {
      const key = `${roomId}:${user.id}`
      const count = (sockets.get(key) ?? 0) + delta
      if (count > 0) sockets.set(key, count)
      else sockets.delete(key)
      return delta === 1 ? count === 1 : count === 0
    },
    async allowRead (roomId, userId, seq, intervalMs) {
      const key = `${roomId}:${userId}`
      const last = readAt.get(key)
      if (last !== undefined && last.seq >= seq) return 'stale'
      const now = Date.now()
      if (last !== undefined && now - last.at < intervalMs) return 'later'
      readAt.set(key, { at: now, seq })
      if (readAt.size > 10_000) for (const [k, entry] of readAt) if (now - entry.at >= READ_MEMORY_MS) readAt.delete(k)
      return 'send'
    },
    async allowTyping (roomId, userId, intervalMs) {
      const key = `${roomId}:${userId}`
      const now = Date.now()
      if (now - (typedAt.get(key) ?? -Infinity) < intervalMs) return false
      typedAt.set(key, now)
      // Forget old entries now and then, so the map holds only recent typists.
      if (typedAt.size > 10_000) for (const [k, at] of typedAt) if (now - at >= intervalMs) typedAt.delete(k)
      return true
    },
    async online (roomId, userIds) {
      return new Set(userIds.filter((userId) => sockets.has(`${roomId}:${userId}`)))
    },
    hearsControl: () => true,
    async ping () {},
    async close () { subscribed.clear() }
  }
}
