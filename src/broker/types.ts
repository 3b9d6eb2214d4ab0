/**
 * What travels between instances. Room events go to the instances that have sockets in the room; control
 * events go to every instance. Frames are serialized once, by the publisher, and sent to sockets as they are.
 */
export type RoomEvent =
  | { type: 'message', seq: number, frame: string }
  /** Typing and presence: ephemeral frames, not stored. `userId` lets a socket skip its own typing. */
  | { type: 'ephemeral', userId: number, frame: string }
  /** Close the sockets of one user in the room (removed: 4403), or of everyone (`userId` null, room deleted: 4404). */
  | { type: 'close', userId: number | null, code: number, reason: string }

export type ControlEvent =
  /** Logout: close every socket opened with this token. */
  | { type: 'token_revoked', tokenId: number }

export type RoomListener = (roomId: number, event: RoomEvent) => void
export type ControlListener = (event: ControlEvent) => void

export interface Broker {
  readonly kind: 'memory' | 'redis'
  /** Delivers to every instance subscribed to the room, this one included. */
  publishRoom: (roomId: number, event: RoomEvent) => Promise<void>
  publishControl: (event: ControlEvent) => Promise<void>
  /** Starts receiving a room's events; the hub calls this when the first local socket joins the room. */
  subscribeRoom: (roomId: number) => Promise<void>
  unsubscribeRoom: (roomId: number) => Promise<void>
  /** The one listener for room events and the one for control events (the chat hub). */
  onRoomEvent: (listener: RoomListener) => void
  onControlEvent: (listener: ControlListener) => void
  /** Throws when the broker cannot be reached (for /readyz). */
  ping: () => Promise<void>
  close: () => Promise<void>
}
