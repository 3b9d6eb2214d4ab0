import type { User } from '../schemas/users.js'

/** A socket across instances: its instance's hub, and its serial there. */
export interface SocketRef { hub: string, serial: number }

/**
 * What travels between instances. Room events go to the instances that have sockets in the room; control
 * events go to every instance. Frames are serialized once, by the publisher, and sent to sockets as they are.
 */
export type RoomEvent =
  /** A committed new message (`created`) or change of one, with its rev: the room's stream is ordered by rev. */
  | { type: 'message', rev: number, id: number, seq: number, created: boolean, frame: string }
  /** Typing and presence: ephemeral frames, not stored; not sent to the sockets of `userId` itself. */
  | { type: 'ephemeral', userId: number, frame: string }
  /** A member's read position moved: to every socket in the room but `except` (the socket that read, if any). */
  | { type: 'read', except: SocketRef | null, frame: string }
  /** Close the sockets of one user in the room (removed: 4403), or of everyone (`userId` null, room deleted: 4404). */
  | { type: 'close', userId: number | null, code: number, reason: string }

/** `{"type": "presence", "user", "online"}` to the others in the room. */
export const presenceEvent = (user: User, online: boolean): RoomEvent =>
  ({ type: 'ephemeral', userId: user.id, frame: JSON.stringify({ type: 'presence', user, online }) })

export type ControlEvent =
  /** Logout: close every socket opened with this token. */
  | { type: 'token_revoked', tokenId: number }
  /**
   * A member left or was removed (`userId`), or the room was deleted (`userId` null): cached access to it is dropped.
   * Published before the room's `close` event, so an instance hears it first.
   */
  | { type: 'access_revoked', roomId: number, userId: number | null }

export type RoomListener = (roomId: number, event: RoomEvent) => void
export type ControlListener = (event: ControlEvent) => void

export interface Broker {
  readonly kind: 'memory' | 'redis'
  /** Delivers to this instance at once (even when Redis is down) and to every other instance in the room. */
  publishRoom: (roomId: number, event: RoomEvent) => Promise<void>
  publishControl: (event: ControlEvent) => Promise<void>
  /** Starts receiving a room's events; the hub calls this when the first local socket joins the room. */
  subscribeRoom: (roomId: number) => Promise<void>
  unsubscribeRoom: (roomId: number) => Promise<void>
  /** The one listener for room events and the one for control events (the chat hub). */
  onRoomEvent: (listener: RoomListener) => void
  onControlEvent: (listener: ControlListener) => void
  /** Called when the broker comes back after an outage: events may have been lost meanwhile. */
  onRecover: (listener: () => void) => void
  /**
   * Counts a user's sockets in a room across instances; true when the user just came online (`+1`, first socket)
   * or went offline (`-1`, last socket).
   */
  presence: (roomId: number, user: User, delta: 1 | -1) => Promise<boolean>
  /** True at most once per user and room in `intervalMs`, across instances: the typing throttle. */
  allowTyping: (roomId: number, userId: number, intervalMs: number) => Promise<boolean>
  /**
   * The read-frame throttle, across instances: `send` at most once per user and room in `intervalMs`, and only for a
   * position above the last one sent; `later` when one was sent lately; `stale` when a position as high went out.
   */
  allowRead: (roomId: number, userId: number, seq: number, intervalMs: number) => Promise<'send' | 'later' | 'stale'>
  /** Which of these users have a socket open in the room, on any instance. */
  online: (roomId: number, userIds: number[]) => Promise<Set<number>>
  /** Whether this instance receives control events now (no outage under way): the access cache trusts only then. */
  hearsControl: () => boolean
  /** Throws when the broker cannot be reached (for /readyz). */
  ping: () => Promise<void>
  close: () => Promise<void>
}
