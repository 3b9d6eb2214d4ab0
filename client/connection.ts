import { Emitter } from './emitter.js'
import type { ServerFrame } from './types.js'

/** What the client needs of a WebSocket: the browser's, or the `ws` package's in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

/** `new WebSocket(url, protocols)` in browsers; `new WebSocket(url, protocols, { headers })` with `ws`. */
export type WebSocketConstructor = new (url: string, protocols?: string[], options?: { headers: Record<string, string> }) => WebSocketLike

/** Why a connection stopped for good: the close-code table of docs/api.md, or a refused handshake. */
export type StopReason =
  | 'closed' // the app closed it, or the server closed with 1000
  | 'logged_out' // 4401, or a handshake refused with 401
  | 'removed' // 4403, or a handshake refused with 403
  | 'room_deleted' // 4404, or a handshake refused with 404

export type ConnectionStatus =
  | { state: 'connecting', attempt: number }
  | { state: 'open' }
  | { state: 'waiting', attempt: number, retryInMs: number, code: number }
  | { state: 'stopped', reason: StopReason, code: number }

export interface ConnectionOptions {
  /** Origins to connect to (`http(s)://host:port`, `''` for this page's), tried in turn on each reconnect. */
  origins: string[]
  room: string
  token: string
  /** The global WebSocket by default; pass `ws`'s in Node. */
  WebSocket?: WebSocketConstructor | undefined
  /** How the token travels: the subprotocol pair (browsers) or the Authorization header (Node, with `ws`). */
  auth?: 'protocol' | 'header' | undefined
  /** Query parameters of each connect, asked just before it (the resume point: `last_rev`). */
  resume: () => Record<string, string>
  /** After a handshake that failed before opening: why, by asking the REST API (browsers do not see the status). */
  diagnose: () => Promise<StopReason | undefined>
  backoff?: { initialMs?: number, maxMs?: number } | undefined
  /** JSON ping interval; a socket with no frame for this plus 10 s is taken as dead. 25 s by default. */
  pingIntervalMs?: number | undefined
}

const STOP_CODES: Record<number, StopReason> = { 1000: 'closed', 4401: 'logged_out', 4403: 'removed', 4404: 'room_deleted' }

/**
 * One room's socket, kept open: reconnects after drops and 1001/1009/1011/4408 with exponential backoff and
 * jitter, stops on 4401/4403/4404 and on refused handshakes, and pings with JSON frames so that a dead
 * connection is noticed where the platform does not tell.
 */
export class RoomConnection extends Emitter<{ status: ConnectionStatus, frame: ServerFrame, open: undefined }> {
  status: ConnectionStatus = { state: 'connecting', attempt: 1 }
  private socket: WebSocketLike | undefined
  private generation = 0
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private lastFrameAt = 0

  constructor (private readonly options: ConnectionOptions) { super() }

  get isOpen (): boolean { return this.status.state === 'open' }

  start (): void {
    if (this.status.state === 'stopped') return
    this.connect()
  }

  /** Sends a frame when open; false otherwise (the outbox resends its own after the next open). */
  send (frame: unknown): boolean {
    if (this.socket === undefined || this.status.state !== 'open') return false
    try { this.socket.send(JSON.stringify(frame)); return true } catch { return false }
  }

  close (): void { this.stop('closed', 1000) }

  private url (origin: string): string {
    const base = origin === '' ? (globalThis as { location?: { href: string } }).location?.href ?? '' : origin
    const url = new URL(`/ws/chat/${encodeURIComponent(this.options.room)}/`, base)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    for (const [key, value] of Object.entries(this.options.resume())) url.searchParams.set(key, value)
    return url.toString()
  }

  private connect (): void {
    const generation = ++this.generation
    this.attempt++
    this.setStatus({ state: 'connecting', attempt: this.attempt })
    const origins = this.options.origins
    const Ctor = this.options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket
    if (Ctor === undefined) throw new Error('No WebSocket: pass one (the `ws` package in Node 20)')
    const auth = this.options.auth ?? (this.options.WebSocket === undefined ? 'protocol' : 'header')
    const url = this.url(origins[(this.attempt - 1) % origins.length] ?? '')
    let socket: WebSocketLike
    try {
      socket = auth === 'protocol'
        ? new Ctor(url, ['chat', `token.${this.options.token}`])
        : new Ctor(url, [], { headers: { authorization: `Token ${this.options.token}` } })
    } catch {
      this.afterClose(generation, 1006, false)
      return
    }
    this.socket = socket
    let opened = false
    socket.onopen = () => {
      if (generation !== this.generation) return
      opened = true
      this.attempt = 0
      this.lastFrameAt = Date.now()
      this.startPings(generation)
      this.setStatus({ state: 'open' })
      this.emit('open', undefined)
    }
    socket.onmessage = (event) => {
      if (generation !== this.generation) return
      this.lastFrameAt = Date.now()
      if (typeof event.data !== 'string') return
      let frame: ServerFrame
      try { frame = JSON.parse(event.data) as ServerFrame } catch { return }
      this.emit('frame', frame)
    }
    socket.onclose = (event) => { this.afterClose(generation, event.code, opened) }
    // An error is always followed by a close, which decides what happens.
    socket.onerror = () => {}
  }

  private afterClose (generation: number, code: number, opened: boolean): void {
    if (generation !== this.generation || this.status.state === 'stopped') return
    this.stopPings()
    this.socket = undefined
    const reason = STOP_CODES[code]
    if (reason !== undefined) {
      this.stop(reason, code)
      return
    }
    if (opened) {
      this.retry(code)
      return
    }
    // The handshake failed: refused (401/403/404, not worth a retry) or the server is unreachable (retry).
    this.options.diagnose().then((refused) => {
      if (generation !== this.generation || this.status.state === 'stopped') return
      if (refused !== undefined) this.stop(refused, code)
      else this.retry(code)
    }, () => { if (generation === this.generation) this.retry(code) })
  }

  private retry (code: number): void {
    const { initialMs = 500, maxMs = 15_000 } = this.options.backoff ?? {}
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 16))
    // Half fixed, half random ("equal jitter"): instances restarting do not get every client back at once.
    const retryInMs = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
    this.setStatus({ state: 'waiting', attempt: this.attempt, retryInMs, code })
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.status.state === 'waiting') this.connect()
    }, retryInMs)
  }

  private stop (reason: StopReason, code: number): void {
    if (this.status.state === 'stopped') return
    this.generation++
    this.stopPings()
    clearTimeout(this.retryTimer)
    const socket = this.socket
    this.socket = undefined
    if (socket !== undefined) try { socket.close(1000) } catch {}
    this.setStatus({ state: 'stopped', reason, code })
  }

  private startPings (generation: number): void {
    const interval = this.options.pingIntervalMs ?? 25_000
    this.pingTimer = setInterval(() => {
      if (generation !== this.generation) return
      if (Date.now() - this.lastFrameAt > interval + 10_000) {
        // No pong, no frame: the connection is dead without having said so. Drop it and reconnect.
        const socket = this.socket
        this.afterClose(generation, 4408, true)
        this.generation++
        try { socket?.close(4000) } catch {}
        return
      }
      this.send({ type: 'ping' })
    }, interval)
  }

  private stopPings (): void {
    clearInterval(this.pingTimer)
    this.pingTimer = undefined
  }

  private setStatus (status: ConnectionStatus): void {
    this.status = status
    this.emit('status', status)
  }
}
