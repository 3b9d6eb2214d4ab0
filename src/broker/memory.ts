import type { Broker, ControlListener, RoomListener } from './types.js'

/** One process: events go straight to this process's listeners. */
export function createMemoryBroker (): Broker {
  const subscribed = new Set<number>()
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
    async ping () {},
    async close () { subscribed.clear() }
  }
}
