import type { Broker, ControlListener, RoomListener } from './types.js'

/** One process: events go straight to this process's listeners. */
export function createMemoryBroker (): Broker {
  const subscribed = new Set<number>()
  const sockets = new Map<string, number>()
  const allowedAt = new Map<string, number>()
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
    async allow (kind, roomId, userId, intervalMs) {
      const key = `${kind}:${roomId}:${userId}`
      const now = Date.now()
      if (now - (allowedAt.get(key) ?? -Infinity) < intervalMs) return false
      allowedAt.set(key, now)
      // Forget old entries now and then, so the map holds only recent typists.
      if (allowedAt.size > 10_000) for (const [k, at] of allowedAt) if (now - at >= intervalMs) allowedAt.delete(k)
      return true
    },
    async online (roomId, userIds) {
      return new Set(userIds.filter((userId) => sockets.has(`${roomId}:${userId}`)))
    },
    async ping () {},
    async close () { subscribed.clear() }
  }
}
