import type { FastifyBaseLogger } from 'fastify'
import type { Broker, ControlEvent, RoomEvent } from '../broker/types.js'
import type { MessageBody } from '../schemas/messages.js'
import { CloseCode, type ChatSession } from './session.js'

export interface HubStore {
  /** The room's last seq, as committed. */
  lastSeq: (roomId: number) => Promise<number>
  /** Messages with seq > `seq`, oldest first. */
  after: (roomId: number, roomName: string, seq: number, limit: number) => Promise<MessageBody[]>
}

export interface HubOptions {
  broker: Broker
  store: HubStore
  log: FastifyBaseLogger
  heartbeatIntervalMs: number
  typingIntervalMs: number
}

interface RoomState {
  name: string
  sessions: Set<ChatSession>
  /** The last seq handed to this room's sessions: the room's stream has no gap and no repeat past it. */
  delivered: number
  /** Message events are handled one after another, so a gap repair finishes before the next frame goes out. */
  queue: Promise<void>
  typingAt: Map<number, number>
}

const REPLAY_PAGE = 500
const serialize = (message: MessageBody) => JSON.stringify({ type: 'message', ...message })

/**
 * This instance's sockets, by room. It subscribes the broker to a room while it has sockets there, and hands each
 * stored message to every socket in seq order: a frame that arrives ahead of the next expected seq means an event
 * was lost or overtaken, so the missing seqs are read from the database and sent first.
 */
export class ChatHub {
  private readonly rooms = new Map<number, RoomState>()
  /** Rooms being set up (subscribe, read last seq), or torn down, so a join waits for that to finish. */
  private readonly transitions = new Map<number, Promise<RoomState>>()
  private readonly byToken = new Map<number, Set<ChatSession>>()
  private readonly heartbeat: NodeJS.Timeout

  constructor (private readonly options: HubOptions) {
    options.broker.onRoomEvent((roomId, event) => this.onRoomEvent(roomId, event))
    options.broker.onControlEvent((event) => this.onControlEvent(event))
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatIntervalMs).unref()
  }

  get size (): number {
    let count = 0
    for (const room of this.rooms.values()) count += room.sessions.size
    return count
  }

  /**
   * Adds a session to its room and brings it up to date: with `lastSeq`, every stored message after it first,
   * then live ones; without, live ones from now on.
   */
  async join (session: ChatSession, lastSeq: number | undefined): Promise<void> {
    const { roomId, roomName, tokenId } = session.context
    const room = await this.roomState(roomId, roomName)
    // Closed while joining: its close listener has already run `leave`.
    if (session.socket.readyState === session.socket.CLOSED) return
    session.fromSeq = Math.min(lastSeq ?? room.delivered, room.delivered)
    session.sentSeq = session.fromSeq
    room.sessions.add(session)
    let sessions = this.byToken.get(tokenId)
    if (sessions === undefined) this.byToken.set(tokenId, sessions = new Set())
    sessions.add(session)
    if (lastSeq !== undefined) await session.replay(() => this.replay(session))
  }

  leave (session: ChatSession): void {
    const { roomId, tokenId } = session.context
    const sessions = this.byToken.get(tokenId)
    sessions?.delete(session)
    if (sessions?.size === 0) this.byToken.delete(tokenId)
    const room = this.rooms.get(roomId)
    if (room === undefined || !room.sessions.delete(session) || room.sessions.size > 0) return
    this.rooms.delete(roomId)
    const { broker, log } = this.options
    const done = broker.unsubscribeRoom(roomId)
      .catch((error: unknown) => log.warn({ err: error, roomId }, 'unsubscribe failed'))
      .then(() => room)
    this.transitions.set(roomId, done)
    void done.finally(() => { if (this.transitions.get(roomId) === done) this.transitions.delete(roomId) })
  }

  /** Forwards a typing frame to the room, at most one per user every `typingIntervalMs`. */
  typing (session: ChatSession, frame: string): void {
    const { roomId, user } = session.context
    const room = this.rooms.get(roomId)
    if (room === undefined) return
    const now = Date.now()
    if (now - (room.typingAt.get(user.id) ?? -Infinity) < this.options.typingIntervalMs) return
    room.typingAt.set(user.id, now)
    this.publish(roomId, { type: 'ephemeral', userId: user.id, frame })
  }

  publish (roomId: number, event: RoomEvent): void {
    this.options.broker.publishRoom(roomId, event)
      .catch((error: unknown) => this.options.log.warn({ err: error, roomId }, 'publish failed'))
  }

  /** Closes every socket (shutdown). */
  closeAll (code: number, reason: string): void {
    clearInterval(this.heartbeat)
    for (const room of this.rooms.values()) for (const session of room.sessions) session.close(code, reason)
  }

  private async roomState (roomId: number, name: string): Promise<RoomState> {
    for (;;) {
      const existing = this.rooms.get(roomId)
      if (existing !== undefined) return existing
      const transition = this.transitions.get(roomId)
      if (transition === undefined) break
      await transition
    }
    const setup = (async () => {
      await this.options.broker.subscribeRoom(roomId)
      // Subscribed first, then read: every message after `delivered` arrives as an event, and the queue
      // (started only once this resolves) drops the events at or below it.
      const room: RoomState = {
        name,
        sessions: new Set(),
        delivered: await this.options.store.lastSeq(roomId),
        queue: Promise.resolve(),
        typingAt: new Map()
      }
      this.rooms.set(roomId, room)
      return room
    })()
    this.transitions.set(roomId, setup)
    try {
      return await setup
    } catch (error) {
      await this.options.broker.unsubscribeRoom(roomId).catch(() => {})
      throw error
    } finally {
      if (this.transitions.get(roomId) === setup) this.transitions.delete(roomId)
    }
  }

  private async replay (session: ChatSession): Promise<void> {
    const { roomId, roomName } = session.context
    for (;;) {
      const page = await this.options.store.after(roomId, roomName, session.sentSeq, REPLAY_PAGE)
      await session.sendPage(page.map((message) => ({ seq: message.seq, frame: serialize(message) })))
      if (page.length < REPLAY_PAGE || !session.open) return
    }
  }

  private onRoomEvent (roomId: number, event: RoomEvent): void {
    const room = this.rooms.get(roomId)
    if (room === undefined) return
    switch (event.type) {
      case 'message':
        room.queue = room.queue
          .then(() => this.deliverMessage(roomId, room, event.seq, event.frame))
          .catch((error: unknown) => this.options.log.error({ err: error, roomId }, 'message delivery failed'))
        return
      case 'ephemeral':
        for (const session of room.sessions) {
          if (session.context.user.id !== event.userId) session.send(event.frame, true)
        }
        return
      case 'close':
        for (const session of room.sessions) {
          if (event.userId === null || session.context.user.id === event.userId) session.close(event.code, event.reason)
        }
    }
  }

  private async deliverMessage (roomId: number, room: RoomState, seq: number, frame: string): Promise<void> {
    if (seq <= room.delivered) return
    if (seq > room.delivered + 1) {
      // Every seq below a committed one is committed too (the room row lock orders the writers), so the
      // missing ones can be read now.
      const missing = await this.options.store.after(roomId, room.name, room.delivered, seq - room.delivered - 1)
      for (const message of missing) this.fanOut(room, message.seq, serialize(message))
    }
    this.fanOut(room, seq, frame)
  }

  private fanOut (room: RoomState, seq: number, frame: string): void {
    if (seq <= room.delivered) return
    room.delivered = seq
    const bytes = Buffer.from(frame)
    for (const session of room.sessions) session.deliver(seq, bytes)
  }

  private onControlEvent (event: ControlEvent): void {
    if (event.type === 'token_revoked') {
      for (const session of this.byToken.get(event.tokenId) ?? []) session.close(CloseCode.tokenRevoked, 'token revoked')
    }
  }

  /** Protocol pings; a socket that has not answered the last two is closed with 4408. */
  private beat (): void {
    for (const room of this.rooms.values()) {
      for (const session of room.sessions) {
        if (session.missedPings >= 2) {
          session.close(CloseCode.tooSlow, 'missed heartbeats')
          continue
        }
        session.missedPings++
        if (session.open) session.socket.ping()
      }
    }
  }
}
