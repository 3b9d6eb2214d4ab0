import type { WebSocket, RawData } from 'ws'
import type { User } from '../schemas/users.js'
import { corkForTick, sendText, type WireFrame } from './wire.js'

export interface SessionContext {
  user: User
  tokenId: number
  roomId: number
  roomName: string
  /** The room's last seq and rev when the upgrade was checked: no client can have a change made after them. */
  lastSeqAtUpgrade: number
  lastRevAtUpgrade: number
}

/** The close codes of docs/api.md's table. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tooBig: 1009,
  serverError: 1011,
  tokenRevoked: 4401,
  removed: 4403,
  roomDeleted: 4404,
  tooSlow: 4408
} as const

const TEXT = { binary: false }
/** A message frame's size at most: 4,000 UTF-16 units, each at most 6 bytes as JSON (`\\u0001`), and the fields. */
const MAX_MESSAGE_FRAME = 25 * 1024
const MAX_REPLAY_PAGE = 500

/** A message frame with what orders it: its rev, the message it is a state of, and whether it is a new message. */
export interface RoomFrame { rev: number, id: number, seq: number, created: boolean, frame: WireFrame }

/**
 * One socket in one room: the ordered stream of message frames it has been sent, by rev. `sentRev` is the last
 * rev sent; frames at or below it are never sent again, so replay and live delivery cannot duplicate one another,
 * and while the replay runs, live frames wait in `pending`.
 */
let sessions = 0

export class ChatSession {
  /** Names the socket on this instance. */
  readonly serial = ++sessions
  /** Every change after `fromRev` reaches this socket, replayed or live. */
  fromRev = 0
  sentRev = 0
  /** With `last_seq`: the messages with a seq above this were replayed in their current state. */
  seqFrom: number | undefined
  /**
   * After a replay by seq: the rev each replayed message had when it was read. A live frame of one of them at or
   * below that rev is a state the socket already has; kept until the stream passes the highest of them.
   */
  private replayed: { revs: Map<number, number>, upTo: number } | undefined
  missedPings = 0
  /** While a `read` frame's mark is in flight: the highest seq read since (0 for none); see `markRead`. */
  readQueued: number | undefined
  /** Whether this socket has been counted in its user's presence in the room. */
  present = false
  /** Bytes handed to the kernel as of the last heartbeat, while some were waiting: a socket that stops reading. */
  flushedAtBeat = -1
  /** The send rate limit is per user per room: the key of this socket's token bucket, built once. */
  readonly bucketKey: string
  private replaying = false
  /** Only while a replay runs: most sessions never need it. */
  private pending: RoomFrame[] | undefined
  private pendingBytes = 0

  constructor (
    readonly socket: WebSocket,
    readonly context: SessionContext,
    private readonly bufferLimit: number
  ) {
    this.bucketKey = `${context.roomId}:${context.user.id}`
  }

  get open (): boolean { return this.socket.readyState === this.socket.OPEN }

  /**
   * Messages per replay page: a page is read only once the last one has left the process, and a page of the
   * largest messages stays within the buffer bound, so a replay holds at most about `bufferLimit` in memory.
   */
  get replayPageSize (): number {
    return Math.max(16, Math.min(MAX_REPLAY_PAGE, Math.floor(this.bufferLimit / MAX_MESSAGE_FRAME)))
  }

  /**
   * Called at each heartbeat: true when bytes have been waiting to be written since the last one and none of
   * them has reached the kernel meanwhile. A client that stops reading but still answers pings is found so.
   */
  stalled (): boolean {
    const tcp = (this.socket as unknown as { _socket?: { bytesWritten: number, writableLength: number } })._socket
    if (tcp === undefined || tcp.writableLength === 0) {
      this.flushedAtBeat = -1
      return false
    }
    const flushed = tcp.bytesWritten - tcp.writableLength
    const stuck = flushed === this.flushedAtBeat
    this.flushedAtBeat = flushed
    return stuck
  }

  /** Whether this socket has been sent, or will be sent, a state of the message (for a retried send). */
  hasSeen (message: { rev: number, seq: number }): boolean {
    return message.rev > this.fromRev || (this.seqFrom !== undefined && message.seq > this.seqFrom)
  }

  /** A message frame, in rev order; ignored when already sent, held back while the replay runs. */
  deliver (live: RoomFrame): void {
    if (live.rev <= this.sentRev) return
    if (this.replaying) {
      // Held back frames count against the bound too: a client that stops reading mid-replay is closed.
      this.pendingBytes += live.frame.bytes.length
      if (this.pendingBytes + this.socket.bufferedAmount > this.bufferLimit) {
        this.pending = undefined
        this.close(CloseCode.tooSlow, 'send buffer full')
        return
      }
      (this.pending ??= []).push(live)
      return
    }
    this.sentRev = live.rev
    // Resumed by seq: the client has every message up to `seqFrom`, even where this instance's stream lags behind.
    if (live.created && this.seqFrom !== undefined && live.seq <= this.seqFrom) return
    const replayed = this.replayed
    if (replayed !== undefined) {
      if (live.rev >= replayed.upTo) this.replayed = undefined
      if ((replayed.revs.get(live.id) ?? 0) >= live.rev) return
    }
    this.send(live.frame)
  }

  /**
   * Sends a frame unless the socket has stopped reading: past the buffer bound it is closed with 4408 rather than
   * grow the server's memory. Ephemeral frames are dropped earlier, at half the bound, to keep room for messages.
   */
  send (frame: WireFrame | string, ephemeral = false): boolean {
    if (!this.open) return false
    const buffered = this.socket.bufferedAmount
    if (ephemeral && buffered > this.bufferLimit / 2) return false
    if (buffered > this.bufferLimit) {
      this.close(CloseCode.tooSlow, 'send buffer full')
      return false
    }
    sendText(this.socket, frame)
    return true
  }

  /** Runs a replay: `run` sends the stored messages this socket lacks; live frames that came meanwhile follow. */
  async replay (run: () => Promise<void>): Promise<void> {
    this.replaying = true
    try {
      await run()
    } finally {
      this.replaying = false
      const pending = this.pending ?? []
      this.pending = undefined
      this.pendingBytes = 0
      if (this.replayed !== undefined && this.replayed.upTo <= this.sentRev) this.replayed = undefined
      for (const live of pending) this.deliver(live)
    }
  }

  /**
   * Sends a page of replayed frames and resolves once they have left the process (the buffer bound holds). A page
   * by rev moves `sentRev`; a page by seq (`last_seq`) is in seq order, so it records what each frame held instead.
   */
  sendPage (frames: Array<{ rev: number, id: number, frame: string }>, order: 'rev' | 'seq'): Promise<void> {
    return new Promise((resolve) => {
      if (frames.length === 0 || !this.open) return resolve()
      frames.forEach(({ rev, id, frame }, i) => {
        if (order === 'rev') {
          this.sentRev = rev
        } else if (rev > this.sentRev) {
          this.replayed ??= { revs: new Map(), upTo: 0 }
          this.replayed.revs.set(id, rev)
          this.replayed.upTo = Math.max(this.replayed.upTo, rev)
        }
        // Corked like live frames: a page leaves in one write (or one per FLUSH_BYTES), not one per frame.
        corkForTick(this.socket)
        this.socket.send(frame, TEXT, i === frames.length - 1 ? () => resolve() : undefined)
      })
    })
  }

  close (code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED || this.socket.readyState === this.socket.CLOSING) return
    this.socket.close(code, reason)
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.socket.terminate(), 5000).unref()
  }
}

export const isText = (data: RawData, isBinary: boolean): data is Buffer => !isBinary && Buffer.isBuffer(data)
