import WebSocket from 'ws'
import { createRoom, joinRoom, mapLimit, register, uniqueName, type Account } from './api.js'
import { FrameKind, frame, scan } from './frames.js'

/**
 * The clients of a scenario: users registered over REST, R rooms, M member sockets per room spread over the
 * server URLs (several instances), each socket checking that its room's seqs arrive once, in order, with no gap.
 */
export interface Topology {
  urls: string[]
  rooms: number
  members: number
  /** Distinct users; sockets beyond it reuse them (registering costs a deliberate scrypt hash each). */
  users: number
  /** The server's: ours (and the bare baseline's), or Socket.IO's (the same frames as event data). */
  protocol?: Protocol | undefined
}

export type Protocol = 'api' | 'socketio'

/** A Socket.IO `message` event on the wire, around the frame's JSON; a ping of Engine.IO, and its answer. */
const EVENT_HEAD = Buffer.from('42["message",')
const ENGINE_PING = 0x32 // '2'

/**
 * The frame inside a Socket.IO `message` event (a view, nothing copied), or undefined for Engine.IO's own packets;
 * its pings are answered here (unanswered, the server closes the socket after pingInterval + pingTimeout).
 */
function unwrapEvent (ws: WebSocket, data: Buffer): Buffer | undefined {
  if (data.length === 1 && data[0] === ENGINE_PING) {
    ws.send('3')
    return undefined
  }
  if (data.length <= EVENT_HEAD.length || data.compare(EVENT_HEAD, 0, EVENT_HEAD.length, 0, EVENT_HEAD.length) !== 0) return undefined
  return data.subarray(EVENT_HEAD.length, data.length - 1)
}

export interface Setup { accounts: Account[], roomNames: string[], userOf: (room: number, member: number) => number }

/** Registers the users, creates the rooms, and has every user that will hold a socket in a room join it. */
export async function setUp (topology: Topology, prefix: string): Promise<Setup> {
  const base = topology.urls[0]!
  const users = Math.max(1, Math.min(topology.users, topology.members))
  const tag = uniqueName(prefix)
  const accounts = await mapLimit(Array.from({ length: users }, (_, i) => i), 8, (i) => register(base, `${tag}_${i}`))
  const owner = accounts[0]!
  const roomNames = await mapLimit(Array.from({ length: topology.rooms }, (_, r) => `${tag}_r${r}`), 8,
    async (name) => (await createRoom(base, owner.token, name)).name)
  const userOf = (room: number, member: number) => (room * topology.members + member) % users
  const joins: Array<[number, number]> = []
  roomNames.forEach((_, r) => {
    const inRoom = new Set<number>()
    for (let m = 0; m < topology.members; m++) inRoom.add(userOf(r, m))
    for (const u of inRoom) if (u !== 0) joins.push([u, r])
  })
  await mapLimit(joins, 16, ([u, r]) => joinRoom(base, accounts[u]!.token, roomNames[r]!))
  return { accounts, roomNames, userOf }
}

export interface MessageHandler { (socket: BenchSocket, receivedAt: number): void }
/** An error frame: its code, and the sender index of the refused send (-1 when it names none of ours). */
export interface ErrorHandler { (socket: BenchSocket, code: string, sender: number): void }

/** One member socket; `last` is the highest seq seen, so order, gaps and repeats are checked frame by frame. */
/** The API's ping frame and its answer (sent once the socket has joined its room, and been sent what it missed). */
export const PING = '{"type":"ping"}'
export const PONG = '{"type":"pong"}'

export class BenchSocket {
  last = 0
  received = 0
  /** A seq at or below one already seen: a duplicate (or a late frame after a gap). */
  backwards = 0
  /** A seq past `last + 1`: frames skipped, so far at least. */
  gaps = 0
  /** Error frames by code. */
  readonly errors = new Map<string, number>()
  closedEarly = false
  /** The sender index when this socket sends (-1 otherwise). */
  sender = -1
  private pong: (() => void) | undefined

  constructor (readonly ws: WebSocket, readonly room: number, onMessage: MessageHandler, onError?: ErrorHandler,
    private readonly socketIo = false) {
    ws.on('message', (raw: Buffer) => {
      const data = socketIo ? unwrapEvent(ws, raw) : raw
      if (data === undefined) return
      const kind = scan(data)
      if (kind === FrameKind.message) {
        if (!this.see(frame.seq)) return
        this.received++
        onMessage(this, performance.now())
      } else if (kind === FrameKind.error) {
        this.errors.set(frame.code, (this.errors.get(frame.code) ?? 0) + 1)
        onError?.(this, frame.code, frame.sender)
      } else if (this.pong !== undefined && data.toString() === PONG) {
        this.pong()
      }
    })
  }

  /** Checks a message's seq against `last` and moves it on; false for a repeat (or a late frame after a gap). */
  see (seq: number): boolean {
    if (seq <= this.last) {
      this.backwards++
      return false
    }
    if (seq > this.last + 1) this.gaps++
    this.last = seq
    return true
  }

  /** Sends a frame of the API (as a `message` event to a Socket.IO server). */
  send (text: string): void {
    this.ws.send(this.socketIo ? `42["message",${text}]` : text)
  }

  /** Resolves on the pong: the server answers only after the socket has joined its room. */
  joined (timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pong: the socket did not join in time')), timeoutMs)
      this.pong = () => { clearTimeout(timer); this.pong = undefined; resolve() }
      this.send(PING)
    })
  }
}

const wsPath = (base: string, room: string, token: string, lastSeq?: number) =>
  `${base.replace(/^http/, 'ws')}/ws/chat/${room}/?token=${token}${lastSeq === undefined ? '' : `&last_seq=${lastSeq}`}`

/** Socket.IO's WebSocket transport (Engine.IO 4), with the room and token as handshake query parameters. */
const socketIoPath = (base: string, room: string, token: string) =>
  `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket&room=${encodeURIComponent(room)}&token=${token}`

/**
 * Opens a socket (bounded by `timeoutMs`); the generator does no deflate and no UTF-8 check, to stay light. To a
 * Socket.IO server, it connects to the main namespace after Engine.IO's open packet (`0{…}`: send `40`, wait for
 * `40{…}`), as its client does.
 */
export function openSocket (base: string, room: string, token: string, timeoutMs: number, lastSeq?: number,
  protocol: Protocol = 'api', onMessage?: (data: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const url = protocol === 'socketio' ? socketIoPath(base, room, token) : wsPath(base, room, token, lastSeq)
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true })
    // From the start: a resumed socket's replay can arrive with the handshake, before a listener added on open.
    if (onMessage !== undefined) ws.on('message', onMessage)
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('socket open timed out')) }, timeoutMs)
    const opened = () => { clearTimeout(timer); resolve(ws) }
    if (protocol === 'socketio') {
      const handshake = (data: Buffer) => {
        if (data[0] === 0x30 /* '0' */) return ws.send('40')
        if (data.toString('latin1', 0, 2) !== '40') return
        ws.off('message', handshake)
        opened()
      }
      ws.on('message', handshake)
    } else {
      ws.once('open', opened)
    }
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      ws.terminate()
      reject(new Error(`socket refused: HTTP ${res.statusCode}`))
    })
    ws.once('error', (error) => { clearTimeout(timer); reject(error) })
  })
}

/**
 * Opens every member socket, `concurrency` at a time, and waits until each has joined. Sockets are opened in order
 * of their user's first socket, so presence frames go to few sockets.
 */
export async function openSwarm (topology: Topology, setup: Setup, onMessage: MessageHandler,
  members: { from: number, to: number } = { from: 0, to: topology.members }, onError?: ErrorHandler,
  concurrency = 200, timeoutMs = 30_000): Promise<BenchSocket[]> {
  const slots: Array<{ room: number, member: number }> = []
  for (let m = members.from; m < members.to; m++) for (let r = 0; r < topology.rooms; r++) slots.push({ room: r, member: m })
  const sockets = await mapLimit(slots, concurrency, async ({ room, member }, i) => {
    const url = topology.urls[i % topology.urls.length]!
    const ws = await openSocket(url, setup.roomNames[room]!, setup.accounts[setup.userOf(room, member)]!.token, timeoutMs,
      undefined, topology.protocol)
    const socket = new BenchSocket(ws, room, onMessage, onError, topology.protocol === 'socketio')
    ws.on('close', () => { socket.closedEarly = true })
    ws.on('error', () => {})
    await socket.joined(timeoutMs)
    return socket
  })
  // Slots were opened member-major; hand them back room-major, members in order.
  return sockets.sort((a, b) => a.room - b.room)
}

/** Error frames over all sockets, by code. */
export function errorCounts (sockets: BenchSocket[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const socket of sockets) for (const [code, n] of socket.errors) counts[code] = (counts[code] ?? 0) + n
  return counts
}

/** Closes every socket without waiting for close handshakes. */
export function closeSwarm (sockets: BenchSocket[]): void {
  for (const socket of sockets) {
    socket.ws.removeAllListeners('close')
    socket.ws.terminate()
  }
}

/** Polls `done` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function until (done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}
