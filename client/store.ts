import { Emitter } from './emitter.js'
import type { Message, ServerFrame, User } from './types.js'

/** Clients show a typing indicator this long after the last typing frame (docs/api.md). */
const TYPING_SHOW_MS = 5000

export interface RoomStoreEvents extends Record<string, unknown> {
  /** Anything changed: messages, typing, presence or read positions. */
  change: RoomStore
}

/**
 * One room's state as the socket and history pages tell it: messages upserted by `id` and kept in `seq` order
 * (an older state, by `rev`, never replaces a newer one), who is typing, who is online, and how far each member
 * has read.
 */
export class RoomStore extends Emitter<RoomStoreEvents> {
  /** The highest rev seen: resume with it (`last_rev`). */
  rev = 0
  /** The oldest seq of the history loaded so far; messages below it are kept but not shown (a gap until paged). */
  windowStart: number | undefined
  /** False once a history page said there is nothing older. */
  hasOlder = true
  readonly online = new Map<number, User>()
  readonly readSeq = new Map<number, { user: User, seq: number }>()
  private readonly byId = new Map<number, Message>()
  private readonly typingUntil = new Map<number, { user: User, timer: ReturnType<typeof setTimeout> }>()
  private sorted: Message[] | undefined
  private batching = false
  private dirty = false

  /** Every message held, in seq order. */
  all (): readonly Message[] {
    this.sorted ??= [...this.byId.values()].sort((a, b) => a.seq - b.seq)
    return this.sorted
  }

  /** The messages to show: the loaded window of history and everything after it. */
  visible (): readonly Message[] {
    const start = this.windowStart
    return start === undefined ? this.all() : this.all().filter((message) => message.seq >= start)
  }

  get (id: number): Message | undefined { return this.byId.get(id) }
  get lastSeq (): number { return this.all().at(-1)?.seq ?? 0 }
  typing (): User[] { return [...this.typingUntil.values()].map((entry) => entry.user) }

  /** The members (other than its sender) whose read position is at or past the message. */
  seenBy (message: Message): User[] {
    return [...this.readSeq.values()]
      .filter((entry) => entry.seq >= message.seq && entry.user.id !== message.sender.id)
      .map((entry) => entry.user)
  }

  /** Stores a message unless a state as new (by rev) is already held; true when it changed something. */
  upsert (message: Message): boolean {
    if (message.rev > this.rev) this.rev = message.rev
    const held = this.byId.get(message.id)
    if (held !== undefined && held.rev >= message.rev) return false
    this.byId.set(message.id, message)
    this.sorted = undefined
    this.stopTyping(message.sender.id)
    this.changed()
    return true
  }

  /** A page of history (newest first, as the server gives it). */
  addPage (messages: readonly Message[], hasOlder: boolean): void {
    this.batch(() => {
      for (const message of messages) this.upsert(message)
      const oldest = messages.at(-1)?.seq
      if (oldest !== undefined && (this.windowStart === undefined || oldest < this.windowStart)) this.windowStart = oldest
      this.hasOlder = hasOlder
      if (!hasOlder) this.windowStart = 1
      this.changed()
    })
  }

  /** Applies one server frame: messages and their updates, read positions, typing and presence. */
  apply (frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
      case 'message_updated': {
        const { type: _type, ...message } = frame
        this.upsert(message)
        break
      }
      case 'read': {
        const held = this.readSeq.get(frame.user.id)
        if (held === undefined || held.seq < frame.seq) {
          this.readSeq.set(frame.user.id, { user: frame.user, seq: frame.seq })
          this.changed()
        }
        break
      }
      case 'typing': this.startTyping(frame.user); break
      case 'presence':
        if (frame.online) this.online.set(frame.user.id, frame.user)
        else { this.online.delete(frame.user.id); this.stopTyping(frame.user.id) }
        this.changed()
        break
    }
  }

  /** Members' read positions and presence from the members route (0.2 fields, when the server sends them). */
  setMembers (members: ReadonlyArray<User & { last_read_seq?: number | null, online?: boolean }>): void {
    this.batch(() => {
      for (const member of members) {
        const { last_read_seq: seq, online, ...user } = member
        if (typeof seq === 'number' && (this.readSeq.get(user.id)?.seq ?? -1) < seq) this.readSeq.set(user.id, { user, seq })
        if (online === true) this.online.set(user.id, user)
      }
      this.changed()
    })
  }

  /** Runs `fn` and emits one change at the end, however many it made. */
  batch (fn: () => void): void {
    const outer = !this.batching
    this.batching = true
    try { fn() } finally {
      if (outer) {
        this.batching = false
        if (this.dirty) { this.dirty = false; this.emit('change', this) }
      }
    }
  }

  /** Clears timers (typing indicators). */
  dispose (): void {
    for (const entry of this.typingUntil.values()) clearTimeout(entry.timer)
    this.typingUntil.clear()
  }

  private changed (): void {
    if (this.batching) this.dirty = true
    else this.emit('change', this)
  }

  private startTyping (user: User): void {
    const held = this.typingUntil.get(user.id)
    if (held !== undefined) clearTimeout(held.timer)
    const timer = setTimeout(() => this.stopTyping(user.id), TYPING_SHOW_MS)
    this.typingUntil.set(user.id, { user, timer })
    this.changed()
  }

  private stopTyping (userId: number): void {
    const held = this.typingUntil.get(userId)
    if (held === undefined) return
    clearTimeout(held.timer)
    this.typingUntil.delete(userId)
    this.changed()
  }
}
