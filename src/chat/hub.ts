import type { FastifyBaseLogger } from 'fastify'
import { presenceEvent, type Broker, type ControlEvent, type RoomEvent, type SocketRef } from '../broker/types.js'
import type { Message } from '../schemas/messages.js'
import type { User } from '../schemas/users.js'
import { corkForTick, WireFrame } from './wire.js'
import { messageFrame, updatedFrame } from './protocol.js'
import { CloseCode, type ChatSession } from './session.js'
import { TokenBuckets } from './token-buckets.js'
import { isDatabaseUnavailable } from '../lib/db-errors.js'
import type { AccessCache } from './access-cache.js'
import { randomBytes } from 'node:crypto'

interface HubStore {
  /** The room's last seq and rev, as committed. */
  position: (roomId: number) => Promise<{ lastSeq: number, lastRev: number }>
  /** The last rev of several rooms (rooms that are gone are left out). */
  lastRevs: (roomIds: number[]) => Promise<Array<{ id: number, lastRev: number }>>
  /** Whether the user is a member of the room now. */
  membership: (roomId: number, userId: number) => Promise<'member' | 'not_member' | 'room_gone'>
  /** Messages with seq > `seq`, oldest first, in their current state. */
  after: (roomId: number, roomName: string, seq: number, limit: number) => Promise<Message[]>
  /** Messages with rev > `rev`, in rev order, in their current state, with the rev each was stored with. */
  changedAfter: (roomId: number, roomName: string, rev: number, limit: number) =>
  Promise<Array<{ message: Message, createdRev: number }>>
}

export interface HubOptions {
  broker: Broker
  /** What upgrades read, cached: the hub drops from it what the control events revoke. */
  access: AccessCache
  store: HubStore
  log: FastifyBaseLogger
  heartbeatIntervalMs: number
  typingIntervalMs: number
  /** How often to compare each room's delivered rev with the database; 0 when events cannot be lost (one process). */
  gapCheckIntervalMs: number
  /** Sends per user per room: refill rate per second and burst. */
  messageRate: number
  messageBurst: number
  /** Open sockets per user on this instance, counted from the admission of the upgrade. */
  maxSocketsPerUser: number
  /** `read` frames: at most one per user and room in this interval (across instances), the latest always sent. */
  readIntervalMs: number
}

/** A member's read position to announce, while its interval runs. */
interface PendingRead {
  roomId: number
  user: User
  seq: number
  /** The socket that read (it is not told); null for a read over REST. */
  except: SocketRef | null
  /** A move came during the interval: the latest position goes out when it ends. */
  dirty: boolean
}

/**
 * Trailing `read` announcements leave on boundaries of this many ms: those due together go out in one tick, so each
 * socket gets them in one write rather than one write each.
 */
const READ_SLOT_MS = 50

type MessageEvent = Extract<RoomEvent, { type: 'message' }>

interface RoomState {
  name: string
  sessions: Set<ChatSession>
  /** The last rev handed to this room's sessions: the room's stream has no gap and no repeat past it. */
  delivered: number
  /** The highest seq among the messages handed out (a resume by seq starts at most there). */
  lastSeq: number
  /** Events that came ahead of the next rev, waiting for the ones before them (from another instance, overtaken). */
  held: Map<number, MessageEvent>
  /** Set while revs are missing: when it fires, what is still missing up to `repairTarget` is read from the database. */
  repair: NodeJS.Timeout | undefined
  repairTarget: number
  /** When the first rev still missing was found missing. */
  gapSince: number | undefined
  /** Message events are handled one after another, so a gap repair finishes before the next frame goes out. */
  queue: Promise<void>
}

const GAP_PAGE = 500
/**
 * How long an event that came ahead of its turn waits for the ones before it before they are read from the
 * database. Events from other instances overtake one another, by a few milliseconds or, on a loaded machine, by
 * more; a rev whose message has changed again since can only come from its event, and is waited for up to
 * MAX_GAP_WAIT_MS (see catchUp).
 */
const REORDER_WAIT_MS = 150
const MAX_GAP_WAIT_MS = 5000
/** Held events beyond this many mean the stream is stuck: the database is read at once. */
const MAX_HELD = 1000
/** Far longer than an upgrade takes from its token check to its join. */
const REVOKED_MEMORY_MS = 60_000
const typingFrame = (user: User) => JSON.stringify({ type: 'typing', user })
const readFrame = (user: User, seq: number) => JSON.stringify({ type: 'read', user, seq })

/**
 * This instance's sockets, by room. It subscribes the broker to a room while it has sockets there, and hands each
 * committed change (published once, after its commit: src/chat/publish.ts) to every socket in rev order: an event
 * that arrives ahead of the next expected rev waits a moment for the ones before it; what is still missing then is
 * read from the database and sent first.
 */
export class ChatHub {
  private readonly rooms = new Map<number, RoomState>()
  /** Rooms being set up (subscribe, read last seq), or torn down, so a join waits for that to finish. */
  private readonly transitions = new Map<number, Promise<RoomState>>()
  private readonly byToken = new Map<number, Set<ChatSession>>()
  /** Tokens revoked lately, with when: a socket whose upgrade checked its token just before is refused on join. */
  private readonly revoked = new Map<number, number>()
  private readonly timers: NodeJS.Timeout[] = []
  /** Set once shutdown has begun: how a socket that finishes joining from then on is closed. */
  private closing: { code: number, reason: string } | undefined
  private readonly sendBuckets: TokenBuckets
  private readonly socketsByUser = new Map<number, number>()
  private readonly reads = new Map<string, PendingRead>()
  /** Trailing announcements by the time they are due (see READ_SLOT_MS). */
  private readonly readSlots = new Map<number, { timer: NodeJS.Timeout, reads: Array<[string, PendingRead]> }>()
  /** Names this hub's sockets across instances (a `read` event is not sent back to the socket that read). */
  private readonly hubId = randomBytes(6).toString('hex')

  constructor (private readonly options: HubOptions) {
    options.broker.onRoomEvent((roomId, event) => this.onRoomEvent(roomId, event))
    options.broker.onControlEvent((event) => this.onControlEvent(event))
    options.broker.onRecover(() => {
      // Invalidations may have been lost with the other events.
      options.access.clear()
      void this.checkGaps()
    })
    this.sendBuckets = new TokenBuckets(options.messageRate, options.messageBurst)
    this.timers.push(setInterval(() => this.beat(), options.heartbeatIntervalMs).unref())
    if (options.gapCheckIntervalMs > 0) {
      this.timers.push(setInterval(() => { void this.checkGaps() }, options.gapCheckIntervalMs).unref())
    }
  }

  /** Open sockets of a user on this instance, upgrades admitted but not yet open included. */
  socketsOf (userId: number): number {
    return this.socketsByUser.get(userId) ?? 0
  }

  /**
   * Counts a socket of the user before its upgrade, so that concurrent handshakes cannot pass the limit together;
   * false when the user is at the limit. An admission is given back with `release`, or by the session's `leave`.
   */
  admit (userId: number): boolean {
    const count = this.socketsOf(userId)
    if (count >= this.options.maxSocketsPerUser) return false
    this.socketsByUser.set(userId, count + 1)
    return true
  }

  release (userId: number): void {
    const count = this.socketsOf(userId)
    if (count <= 1) this.socketsByUser.delete(userId)
    else this.socketsByUser.set(userId, count - 1)
  }

  /** Whether the session may send one more message now (per user and room); 0 when it may, else seconds to wait. */
  throttle (session: ChatSession): number {
    return this.take(session.bucketKey)
  }

  /** The same limit for a change or a send over REST: they count against the same bucket as the user's sockets. */
  throttleUser (roomId: number, userId: number): number {
    return this.take(`${roomId}:${userId}`)
  }

  private take (key: string): number {
    return this.sendBuckets.take(key) ? 0 : Math.max(1, this.sendBuckets.retryAfter(key))
  }

  get size (): number {
    let count = 0
    for (const room of this.rooms.values()) count += room.sessions.size
    return count
  }

  /**
   * Adds a session to its room and brings it up to date: with `resume.lastRev`, every message changed after it
   * first; with `resume.lastSeq`, every message stored after it; then live ones; without, live ones from now on.
   */
  async join (session: ChatSession, resume: { lastSeq?: number | undefined, lastRev?: number | undefined }): Promise<void> {
    const { roomId, roomName, tokenId } = session.context
    // Found by its token from the start: a logout while the room is being set up closes it too. One that came
    // between the upgrade's token check and now is remembered for a while.
    if (this.revoked.has(tokenId)) return session.close(CloseCode.tokenRevoked, 'token revoked')
    let sessions = this.byToken.get(tokenId)
    if (sessions === undefined) this.byToken.set(tokenId, sessions = new Set())
    sessions.add(session)
    const { lastSeq, lastRev } = resume
    let { lastSeqAtUpgrade, lastRevAtUpgrade } = session.context
    // The room as this instance had it when the socket came, before anything below waits. The upgrade may have read
    // the room from the access cache, seconds old: a client ahead of that and of this instance's stream is measured
    // against the room as it is now, so that nothing it has is sent again. (A room set up for this join reads its
    // position now anyway.)
    const known = this.rooms.get(roomId)
    const cameAt = known && { seq: Math.max(known.lastSeq, lastSeqAtUpgrade), rev: Math.max(known.delivered, lastRevAtUpgrade) }
    if (cameAt !== undefined && ((lastRev ?? 0) > cameAt.rev || (lastSeq ?? 0) > cameAt.seq)) {
      ({ lastSeq: lastSeqAtUpgrade, lastRev: lastRevAtUpgrade } = await this.options.store.position(roomId))
    }
    const room = await this.roomState(roomId, roomName)
    // Closed while joining: its close listener has already run `leave`.
    if (session.socket.readyState === session.socket.CLOSED) return
    // Still joining when shutdown took its list of sockets: it would keep the server from closing.
    if (this.closing !== undefined) return session.close(this.closing.code, this.closing.reason)
    // A client ahead of this instance's stream (which lags the database after an outage) has the changes up to
    // `lastRev` already: none of them is sent again. One beyond the room's last change as it is now (no client is,
    // short of a database restored from a backup) is measured against the room as this instance had it when the
    // socket came, so that a change stored while it joined is sent to it, not counted among those it claims (a room
    // set up for this join has only its own read; positions only grow, so `came` is never past `now`). The same for
    // `lastSeq`, by seq.
    const from = (claimed: number, now: number, came: number | undefined) => claimed <= now ? claimed : came ?? now
    session.fromRev = lastRev === undefined ? room.delivered : from(lastRev, Math.max(room.delivered, lastRevAtUpgrade), cameAt?.rev)
    session.sentRev = session.fromRev
    if (lastSeq !== undefined) session.seqFrom = from(lastSeq, Math.max(room.lastSeq, lastSeqAtUpgrade), cameAt?.seq)
    room.sessions.add(session)
    // Live frames wait from here (the replay's hold), so that none overtakes the stored ones or the check below.
    await session.replay(async () => {
      // Membership was checked before the upgrade. A removal (or the room's deletion) committed since is found
      // now; one committed later has its close event reach the room, where this session is from now on.
      const status = await this.options.store.membership(roomId, session.context.user.id)
      if (status !== 'member') {
        return status === 'room_gone'
          ? session.close(CloseCode.roomDeleted, 'room deleted')
          : session.close(CloseCode.removed, 'removed from the room')
      }
      if (!session.open) return
      // Counted before the socket is served (its frames wait for the join): once it answers, its user is online.
      session.present = true
      const counted = this.presence(session, 1)
      if (lastRev !== undefined) await this.replayByRev(session, room)
      else if (lastSeq !== undefined) await this.replayBySeq(session, room, lastSeqAtUpgrade)
      await counted
    })
  }

  leave (session: ChatSession): void {
    const { roomId, tokenId } = session.context
    // Every session was admitted before its upgrade (see `admit`); 'close', and so this, comes once per socket.
    this.release(session.context.user.id)
    const sessions = this.byToken.get(tokenId)
    sessions?.delete(session)
    if (sessions?.size === 0) this.byToken.delete(tokenId)
    const room = this.rooms.get(roomId)
    if (room === undefined || !room.sessions.delete(session)) return
    if (session.present) void this.presence(session, -1)
    if (room.sessions.size > 0) return
    this.rooms.delete(roomId)
    if (room.repair !== undefined) clearTimeout(room.repair)
    const { broker, log } = this.options
    const done = broker.unsubscribeRoom(roomId)
      .catch((error: unknown) => log.warn({ err: error, roomId }, 'unsubscribe failed'))
      .then(() => room)
    this.transitions.set(roomId, done)
    void done.finally(() => { if (this.transitions.get(roomId) === done) this.transitions.delete(roomId) })
  }

  /** Forwards a typing frame to the room, at most one per user every `typingIntervalMs` (across instances). */
  typing (session: ChatSession): void {
    const { roomId, user } = session.context
    this.options.broker.allowTyping(roomId, user.id, this.options.typingIntervalMs)
      .then((allowed) => {
        if (allowed) this.publish(roomId, { type: 'ephemeral', userId: user.id, frame: typingFrame(user) })
      })
      .catch((error: unknown) => this.options.log.warn({ err: error, roomId }, 'typing throttle failed'))
  }

  /**
   * A member's read position moved (committed): a `read` frame to every other socket in the room, on every
   * instance. At most one per user and room per interval: the first goes out at once, and the moves during the
   * interval become one frame at its end, with the latest position. The broker's throttle remembers the last
   * position sent, so an instance whose position was overtaken by another's never sends it after the higher one.
   */
  announceRead (roomId: number, user: User, seq: number, from?: ChatSession): void {
    const key = `${roomId}:${user.id}`
    const except = from === undefined ? null : { hub: this.hubId, serial: from.serial }
    const pending = this.reads.get(key)
    if (pending !== undefined) {
      if (seq >= pending.seq) Object.assign(pending, { seq, except })
      pending.dirty = true
      return
    }
    const read: PendingRead = { roomId, user, seq, except, dirty: true }
    this.reads.set(key, read)
    void this.sendRead(key, read)
  }

  private async sendRead (key: string, read: PendingRead): Promise<void> {
    const { broker, log, readIntervalMs } = this.options
    try {
      if (!read.dirty) {
        this.reads.delete(key)
        return
      }
      const { seq, except } = read
      const verdict = await broker.allowRead(read.roomId, read.user.id, seq, readIntervalMs)
      // `stale`: a position as high went out (from another instance): nothing to tell.
      if (verdict !== 'later') read.dirty = seq < read.seq
      if (verdict === 'send') this.publish(read.roomId, { type: 'read', except, frame: readFrame(read.user, seq) })
    } catch (error) {
      log.warn({ err: error, roomId: read.roomId }, 'read announcement failed')
    }
    // Another instance announced this user lately (or this one just did): try again when the interval ends, plus up
    // to a quarter of it at random, at the next READ_SLOT_MS boundary. Members who all read the same message start
    // their intervals together; without the jitter, a hundred of them would be announced in the same millisecond
    // every second, each to every socket; without the slots, each would be a write of its own to every socket.
    const retryInMs = readIntervalMs + Math.floor(Math.random() * readIntervalMs / 4)
    if (this.closing === undefined) this.inSlot(retryInMs, key, read)
    else this.reads.delete(key)
  }

  /** Announces `read` at the first READ_SLOT_MS boundary at least `delayMs` from now, with the others due then. */
  private inSlot (delayMs: number, key: string, read: PendingRead): void {
    const due = Math.ceil((Date.now() + delayMs) / READ_SLOT_MS) * READ_SLOT_MS
    let slot = this.readSlots.get(due)
    if (slot === undefined) {
      const reads: Array<[string, PendingRead]> = []
      const timer = setTimeout(() => {
        this.readSlots.delete(due)
        for (const [k, r] of reads) void this.sendRead(k, r)
      }, due - Date.now()).unref()
      this.readSlots.set(due, slot = { timer, reads })
    }
    slot.reads.push([key, read])
  }

  /** A user's first socket in a room tells the others they are online; their last socket, that they are not. */
  private presence (session: ChatSession, delta: 1 | -1): Promise<void> {
    const { roomId, user } = session.context
    return this.options.broker.presence(roomId, user, delta)
      .then((changed) => { if (changed) this.publish(roomId, presenceEvent(user, delta === 1)) })
      .catch((error: unknown) => this.options.log.warn({ err: error, roomId }, 'presence update failed'))
  }

  publish (roomId: number, event: RoomEvent): void {
    this.options.broker.publishRoom(roomId, event)
      .catch((error: unknown) => this.options.log.warn({ err: error, roomId }, 'publish failed'))
  }

  /**
   * Shutdown: closes every socket with `code`, spread over `windowMs` so that thousands of clients do not reconnect
   * in the same millisecond; resolves when all have closed, or after the window and a grace period.
   */
  async closeAll (code: number, reason: string, windowMs: number): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    for (const slot of this.readSlots.values()) clearTimeout(slot.timer)
    this.closing = { code, reason }
    const sessions = [...this.rooms.values()].flatMap((room) => [...room.sessions])
    await Promise.all(sessions.map((session, i) => new Promise<void>((resolve) => {
      const grace = setTimeout(resolve, windowMs + 2000)
      session.socket.once('close', () => { clearTimeout(grace); resolve() })
      setTimeout(() => session.close(code, reason), (i / sessions.length) * windowMs)
    })))
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
      // Subscribed first, then read: every change after `delivered` arrives as an event, and the queue
      // (started only once this resolves) drops the events at or below it.
      const { lastSeq, lastRev } = await this.options.store.position(roomId)
      const room: RoomState = {
        name,
        sessions: new Set(),
        delivered: lastRev,
        lastSeq,
        held: new Map(),
        repair: undefined,
        repairTarget: 0,
        gapSince: undefined,
        queue: Promise.resolve()
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

  /** Every message changed after the session's rev, in rev order: as `message` when it is new to the client. */
  private async replayByRev (session: ChatSession, room: RoomState): Promise<void> {
    const { roomId, roomName } = session.context
    const size = session.replayPageSize
    const from = session.fromRev
    // Every change after `room.delivered` reaches the session from the room's stream: a client that has everything
    // before it (a reconnect after a restart) costs no read.
    while (session.sentRev < room.delivered) {
      const page = await this.options.store.changedAfter(roomId, roomName, session.sentRev, size)
      await session.sendPage(page.map(({ message, createdRev }) => ({
        rev: message.rev,
        id: message.id,
        frame: createdRev > from ? messageFrame(message) : updatedFrame(message)
      })), 'rev')
      if (page.length < size || !session.open) return
    }
  }

  /** Every message stored after the session's seq, in seq order, in its current state. */
  private async replayBySeq (session: ChatSession, room: RoomState, lastSeqAtUpgrade: number): Promise<void> {
    const { roomId, roomName } = session.context
    const size = session.replayPageSize
    let seq = session.seqFrom!
    // Every message after `room.lastSeq` reaches the session from the room's stream (it is in the room, and the
    // stream delivers in order): a client with everything up to it, and up to the room as its upgrade read it (a
    // stream that lags the database is not waited for), costs no read: a reconnect storm after a restart.
    if (seq >= Math.max(room.lastSeq, lastSeqAtUpgrade)) return
    for (;;) {
      const page = await this.options.store.after(roomId, roomName, seq, size)
      await session.sendPage(page.map((message) => ({ rev: message.rev, id: message.id, frame: messageFrame(message) })), 'seq')
      if (page.length < size || !session.open) return
      seq = page.at(-1)!.seq
    }
  }

  private onRoomEvent (roomId: number, event: RoomEvent): void {
    const room = this.rooms.get(roomId)
    // Shutting down: every socket is being closed, and the database is about to be.
    if (room === undefined || this.closing !== undefined) return
    switch (event.type) {
      case 'message':
        room.queue = room.queue
          .then(() => this.deliverEvent(roomId, room, event))
          .catch((error: unknown) => this.deliveryFailed(error, roomId))
        return
      case 'ephemeral':
        this.broadcast(room, event.frame, (session) => session.context.user.id === event.userId, true)
        return
      case 'read': {
        const except = event.except?.hub === this.hubId ? event.except.serial : -1
        this.broadcast(room, event.frame, (session) => session.serial === except)
        return
      }
      case 'close':
        for (const session of room.sessions) {
          if (event.userId === null || session.context.user.id === event.userId) session.close(event.code, event.reason)
        }
    }
  }

  private async deliverEvent (roomId: number, room: RoomState, event: MessageEvent): Promise<void> {
    if (event.rev <= room.delivered) return
    if (event.rev === room.delivered + 1) {
      this.fanOut(room, event)
      this.releaseHeld(room)
      return
    }
    room.held.set(event.rev, event)
    room.gapSince ??= Date.now()
    // Every rev below a committed one is committed too (the room row lock orders the writers), so the missing
    // ones can be read at any time; first they are given a moment to arrive.
    if (room.held.size > MAX_HELD) return await this.catchUp(roomId, room, Math.max(...room.held.keys()), true)
    this.scheduleRepair(roomId, room, event.rev)
  }

  /** Reads what is still missing up to `target` from the database after a moment, unless it arrives first. */
  private scheduleRepair (roomId: number, room: RoomState, target: number): void {
    room.repairTarget = Math.max(room.repairTarget, target)
    room.repair ??= setTimeout(() => {
      room.repair = undefined
      if (room.repairTarget <= room.delivered) return
      room.queue = room.queue
        .then(() => this.catchUp(roomId, room, room.repairTarget))
        .catch((error: unknown) => this.deliveryFailed(error, roomId))
    }, REORDER_WAIT_MS).unref()
  }

  /** Hands out the held events that are next in turn. */
  private releaseHeld (room: RoomState): void {
    for (let next = room.held.get(room.delivered + 1); next !== undefined; next = room.held.get(room.delivered + 1)) {
      room.held.delete(next.rev)
      this.fanOut(room, next)
    }
    for (const rev of room.held.keys()) if (rev <= room.delivered) room.held.delete(rev)
    if (room.held.size === 0 && room.repairTarget <= room.delivered) {
      room.gapSince = undefined
      if (room.repair !== undefined) clearTimeout(room.repair)
      room.repair = undefined
    }
  }

  /**
   * Delivers the changes after `room.delivered` up to `target`, each rev as its held event or as read from the
   * database. A rev whose message changed again since is not in the database any more (a message holds only its
   * latest state): only its event has it, so the stream waits for that event, up to MAX_GAP_WAIT_MS after the gap
   * was seen, and then skips the rev (its event was lost; the later state follows). `force` skips at once.
   */
  private async catchUp (roomId: number, room: RoomState, target: number, force = false): Promise<void> {
    const from = room.delivered
    /** Messages this repair has handed out: a later state of one of them is an update. */
    const sent = new Set<number>()
    const skip = force || (room.gapSince !== undefined && Date.now() - room.gapSince >= MAX_GAP_WAIT_MS)
    while (room.delivered < target) {
      const page = await this.options.store.changedAfter(roomId, room.name, room.delivered, GAP_PAGE)
      const known = page.length === GAP_PAGE ? Math.min(target, page.at(-1)!.message.rev) : target
      const read = new Map(page.map((entry) => [entry.message.rev, entry]))
      for (let rev = room.delivered + 1; rev <= known; rev++) {
        const held = room.held.get(rev)
        const row = read.get(rev)
        if (held !== undefined) {
          room.held.delete(rev)
          sent.add(held.id)
          this.fanOut(room, held)
        } else if (row !== undefined) {
          // New to this instance's stream (created after where it was): a `message` frame, so no client sees its
          // first state as an update.
          const created = row.createdRev > from && !sent.has(row.message.id)
          sent.add(row.message.id)
          this.fanOut(room, {
            type: 'message',
            rev,
            id: row.message.id,
            seq: row.message.seq,
            created,
            frame: created ? messageFrame(row.message) : updatedFrame(row.message)
          })
        } else if (skip) {
          room.delivered = rev
        } else {
          room.gapSince ??= Date.now()
          this.scheduleRepair(roomId, room, target)
          return
        }
      }
    }
    this.releaseHeld(room)
  }

  /**
   * Events can be lost between instances (a Redis outage or restart, a slow subscriber). Compares each room's
   * delivered rev with the database and delivers what is missing, in order, through the room's queue.
   */
  private async checkGaps (): Promise<void> {
    if (this.rooms.size === 0) return
    try {
      for (const { id, lastRev } of await this.options.store.lastRevs([...this.rooms.keys()])) {
        const room = this.rooms.get(id)
        if (room === undefined || lastRev <= room.delivered) continue
        room.queue = room.queue
          .then(() => this.catchUp(id, room, lastRev))
          .catch((error: unknown) => this.deliveryFailed(error, id))
      }
    } catch (error) {
      this.options.log.warn({ err: error }, 'gap check failed')
    }
  }

  /**
   * The next event or gap check repairs what was not delivered. A database outage is reported by /readyz and by
   * the failed sends; here it is a warning, and nothing during shutdown.
   */
  private deliveryFailed (error: unknown, roomId: number): void {
    if (this.closing !== undefined) return
    if (isDatabaseUnavailable(error)) this.options.log.warn({ err: error, roomId }, 'message delivery waits for the database')
    else this.options.log.error({ err: error, roomId }, 'message delivery failed')
  }

  /**
   * A frame that is not a message to every session of the room but those `skip` names: serialized once and corked
   * like messages (a busy room has a read frame a second from every member; when an instance stops, each of its users
   * who goes offline and comes back is a presence frame to every socket).
   */
  private broadcast (room: RoomState, text: string, skip: (session: ChatSession) => boolean, ephemeral = false): void {
    const frame = new WireFrame(text)
    for (const session of room.sessions) {
      if (skip(session)) continue
      corkForTick(session.socket)
      session.send(frame, ephemeral)
    }
  }

  private fanOut (room: RoomState, event: MessageEvent): void {
    if (event.rev <= room.delivered) return
    room.delivered = event.rev
    if (event.created && event.seq > room.lastSeq) room.lastSeq = event.seq
    const live = { rev: event.rev, id: event.id, seq: event.seq, created: event.created, frame: new WireFrame(event.frame) }
    for (const session of room.sessions) {
      corkForTick(session.socket)
      session.deliver(live)
    }
  }

  /**
   * A member left or was removed (`userId`), or the room was deleted (null): their sockets in the room close, on
   * every instance. The control event goes first, so that an instance has dropped the cached access before the
   * close event can reach it (the same connection carries both, in order), and a socket joining meanwhile is
   * checked against the database.
   */
  revokeAccess (roomId: number, userId: number | null): void {
    this.options.broker.publishControl({ type: 'access_revoked', roomId, userId })
      .catch((error: unknown) => this.options.log.warn({ err: error, roomId }, 'publish failed'))
    this.publish(roomId, userId === null
      ? { type: 'close', userId: null, code: CloseCode.roomDeleted, reason: 'room deleted' }
      : { type: 'close', userId, code: CloseCode.removed, reason: 'removed from the room' })
  }

  private onControlEvent (event: ControlEvent): void {
    const { access } = this.options
    if (event.type === 'access_revoked') {
      access.invalidate((tags) => tags.roomId === event.roomId && (event.userId === null || tags.userId === event.userId))
    } else if (event.type === 'token_revoked') {
      access.invalidate((tags) => tags.tokenId === event.tokenId)
      this.revoked.set(event.tokenId, Date.now())
      for (const session of this.byToken.get(event.tokenId) ?? []) session.close(CloseCode.tokenRevoked, 'token revoked')
    }
  }

  /** Protocol pings; a socket that has not answered the last two is closed with 4408. */
  private beat (): void {
    this.sendBuckets.sweep()
    const old = Date.now() - REVOKED_MEMORY_MS
    for (const [tokenId, at] of this.revoked) if (at < old) this.revoked.delete(tokenId)
    for (const room of this.rooms.values()) {
      for (const session of room.sessions) {
        if (session.missedPings >= 2) {
          session.close(CloseCode.tooSlow, 'missed heartbeats')
          continue
        }
        // Answering pings is not enough: a socket whose waiting bytes have not moved for a whole interval is dead.
        if (session.stalled()) {
          session.close(CloseCode.tooSlow, 'not reading')
          continue
        }
        session.missedPings++
        if (session.open) session.socket.ping()
      }
    }
  }
}
