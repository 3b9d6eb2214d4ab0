import { ApiError } from './errors.js'
import { cursorOf, type ChatApi } from './api.js'
import { RoomConnection, type ConnectionStatus, type StopReason, type WebSocketConstructor } from './connection.js'
import { Emitter } from './emitter.js'
import { Outbox, SendError, type PendingSend } from './outbox.js'
import { memoryStorage, type ChatStorage } from './storage.js'
import { RoomStore } from './store.js'
import type { Message } from './types.js'

export interface RoomSessionOptions {
  api: ChatApi
  room: string
  /** The signed-in user's id: only their own messages acknowledge the outbox. */
  userId?: number | undefined
  WebSocket?: WebSocketConstructor | undefined
  auth?: 'protocol' | 'header' | undefined
  /** Socket origins to try in turn; the API's by default. */
  origins?: string[] | undefined
  /** Keeps unacknowledged sends across reloads (`webStorage(localStorage)`); in memory by default. */
  storage?: ChatStorage | undefined
  /** Load the newest page of history before connecting (the default), or stream the whole room from rev 0. */
  history?: boolean | undefined
  pageSize?: number | undefined
  backoff?: { initialMs?: number, maxMs?: number } | undefined
  pingIntervalMs?: number | undefined
}

/** Refused sends worth another try after a pause: the server sent them back, but they are not wrong. */
const TRANSIENT = new Set(['throttled', 'unavailable'])
const TYPING_EVERY_MS = 2000

/**
 * A room as a UI uses it: its store (messages, typing, presence, read positions), its socket (resumed by rev,
 * reconnected by the close-code table) and its outbox (sends acknowledged by their own copy, resent after every
 * reconnect). Edits, deletions and reactions go over REST and reach the store from their answer and the socket.
 */
export class RoomSession extends Emitter<{ status: ConnectionStatus, pending: readonly PendingSend[], error: Error }> {
  readonly store = new RoomStore()
  readonly outbox: Outbox
  readonly connection: RoomConnection
  private readonly api: ChatApi
  private cursor: string | undefined
  private started = false
  private lastTyping = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined

  constructor (private readonly options: RoomSessionOptions) {
    super()
    this.api = options.api
    this.outbox = new Outbox(options.storage ?? memoryStorage(), `outbox:${options.userId ?? 'anyone'}:${options.room}`)
    this.outbox.on('change', (items) => this.emit('pending', items))
    if (options.api.token === undefined) throw new Error('RoomSession needs a signed-in ChatApi (a token)')
    this.connection = new RoomConnection({
      origins: options.origins ?? [options.api.baseUrl],
      room: options.room,
      token: options.api.token,
      WebSocket: options.WebSocket,
      auth: options.auth,
      backoff: options.backoff,
      pingIntervalMs: options.pingIntervalMs,
      resume: () => ({ last_rev: String(this.store.rev) }),
      diagnose: () => this.diagnose()
    })
    this.connection.on('status', (status) => this.emit('status', status))
    this.connection.on('open', () => this.flush())
    this.connection.on('frame', (frame) => {
      if (frame.type === 'message' || frame.type === 'message_updated') {
        this.store.apply(frame)
        if (frame.type === 'message' && (this.options.userId === undefined || frame.sender.id === this.options.userId)) {
          this.outbox.ack(frame)
        }
      } else if (frame.type === 'error') {
        this.refused(frame.client_id, frame.code, frame.detail)
      } else {
        this.store.apply(frame)
      }
    })
  }

  get room (): string { return this.options.room }
  get status (): ConnectionStatus { return this.connection.status }

  /** Loads the newest history page (unless `history: false`), the members' read state, then connects. */
  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    if (this.options.history !== false) {
      // The room's rev (0.2) is read before the page, so resuming from it misses nothing that changed in between.
      const room = await this.api.room(this.options.room).catch(() => undefined)
      const page = await this.api.messages(this.options.room, { limit: this.options.pageSize ?? 50 })
      this.cursor = cursorOf(page.next)
      this.store.addPage(page.results, page.next !== null)
      const pageRev = Math.max(0, ...page.results.map((message) => message.rev))
      this.store.rev = typeof room?.rev === 'number' ? Math.min(room.rev, this.store.rev) : pageRev
      void this.api.members(this.options.room).then((members) => this.store.setMembers(members), () => {})
    }
    this.connection.start()
  }

  /** Loads the next older page of history; false when there is none. */
  async loadOlder (): Promise<boolean> {
    if (!this.store.hasOlder || this.cursor === undefined) return false
    const page = await this.api.messages(this.options.room, { limit: this.options.pageSize ?? 50, cursor: this.cursor })
    this.cursor = cursorOf(page.next)
    this.store.addPage(page.results, page.next !== null)
    return page.results.length > 0
  }

  /** Sends a message; resolves with it once stored (its own copy arrived), however many reconnects that takes. */
  send (text: string, options: { replyTo?: number | null, messageType?: 'text' | 'image' | 'file' } = {}): Promise<Message> {
    if (this.connection.status.state === 'stopped') {
      return Promise.reject(new SendError('stopped', `The room's connection stopped: ${this.connection.status.reason}`))
    }
    const { item, stored } = this.outbox.add({ message: text, message_type: options.messageType ?? 'text', reply_to: options.replyTo ?? null })
    this.sendFrame(item)
    return stored
  }

  /** Tells the others this user is typing, at most once every 2 s (the server's own rate). */
  typing (): void {
    const now = Date.now()
    if (now - this.lastTyping < TYPING_EVERY_MS) return
    if (this.connection.send({ type: 'typing' })) this.lastTyping = now
  }

  /** Marks the room read up to `seq` (the newest message by default): over the socket, else over REST. */
  markRead (seq = this.store.lastSeq): void {
    if (seq <= 0) return
    if (!this.connection.send({ type: 'read', seq })) void this.api.markRead(this.options.room, seq).catch(() => {})
  }

  async edit (id: number, text: string): Promise<void> { this.store.upsert(await this.api.editMessage(this.options.room, id, text)) }
  async delete (id: number): Promise<void> { await this.api.deleteMessage(this.options.room, id) }
  /** Adds the caller's reaction, or takes it back when they already reacted with it. */
  async toggleReaction (id: number, emoji: string): Promise<void> {
    const mine = this.store.get(id)?.reactions.find((reaction) => reaction.emoji === emoji)
      ?.user_ids.includes(this.options.userId ?? -1) === true
    const message = mine ? await this.api.unreact(this.options.room, id, emoji) : await this.api.react(this.options.room, id, emoji)
    this.store.upsert(message)
  }

  close (): void {
    clearTimeout(this.retryTimer)
    this.connection.close()
    this.store.dispose()
  }

  /** Sends every unacknowledged message again: after each (re)connect, the server keeps each client_id once. */
  private flush (): void {
    for (const item of this.outbox.pending()) this.sendFrame(item)
  }

  private sendFrame (item: PendingSend): void {
    this.connection.send({
      message: item.message,
      message_type: item.message_type,
      client_id: item.client_id,
      ...(item.reply_to === null ? {} : { reply_to: item.reply_to })
    })
  }

  private refused (clientId: string | undefined, code: string, detail: string): void {
    if (clientId === undefined) {
      this.emit('error', new SendError(code, detail))
      return
    }
    if (!TRANSIENT.has(code)) {
      this.outbox.fail(clientId, new SendError(code, detail))
      return
    }
    // Throttled or the database down: the send waits in the outbox and goes again shortly.
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => this.flush(), 1000)
  }

  /** Why the socket's handshake failed, asked of a members-only route: 401, 403 and 404 are answers, not outages. */
  private async diagnose (): Promise<StopReason | undefined> {
    try {
      await this.api.members(this.options.room)
      return undefined
    } catch (error) {
      if (!(error instanceof ApiError)) return undefined
      if (error.status === 401) return 'logged_out'
      if (error.status === 403) return 'removed'
      if (error.status === 404) return 'room_deleted'
      return undefined
    }
  }
}
