import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/** Past this much held back, the writes go out at once: a burst of large frames is not held in memory. */
const FLUSH_BYTES = 16 * 1024
const TEXT = { binary: false }
const corked = new Set<Socket>()
let scheduled = false

/** `ws` keeps its TCP socket in `_socket`. */
const tcp = (socket: WebSocket) => (socket as unknown as { _socket?: Socket })._socket

function uncorkAll (): void {
  scheduled = false
  for (const socket of corked) socket.uncork()
  corked.clear()
}

/**
 * Holds a socket's writes until the work of the current tick is done, so that the frames of a committed batch
 * leave in one `writev` per socket (or one per FLUSH_BYTES) instead of one per frame. `ws` corks the socket around
 * each frame itself; corks nest. FLUSH_BYTES is well below the least SOCKET_BUFFER_LIMIT, so frames held here
 * never make a reading socket look slow.
 */
export function corkForTick (socket: WebSocket): void {
  const raw = tcp(socket)
  if (raw === undefined) return
  if (corked.has(raw)) {
    // What stays buffered after a flush is what the peer has not read: the send buffer bound applies to that.
    if (raw.writableLength >= FLUSH_BYTES) {
      raw.uncork()
      raw.cork()
    }
    return
  }
  raw.cork()
  corked.add(raw)
  if (!scheduled) {
    scheduled = true
    // A tick queued from a promise chain runs once every microtask chained so far has run.
    process.nextTick(uncorkAll)
  }
}

/**
 * A text frame built once, header included, for every socket of a room: a single unmasked, unfragmented frame
 * (RFC 6455 section 5.2), as a server sends it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-5.2
 */
export class WireFrame {
  readonly bytes: Buffer
  /** The JSON text alone, for a socket that `ws` must frame itself. */
  readonly payload: Buffer
  constructor (text: string) {
    const length = Buffer.byteLength(text)
    const header = length < 126 ? 2 : length < 65536 ? 4 : 10
    this.bytes = Buffer.allocUnsafe(header + length)
    this.bytes[0] = 0x81 // FIN, opcode 1 (text)
    if (length < 126) {
      this.bytes[1] = length
    } else if (length < 65536) {
      this.bytes[1] = 126
      this.bytes.writeUInt16BE(length, 2)
    } else {
      this.bytes[1] = 127
      this.bytes.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
      this.bytes.writeUInt32BE(length % 2 ** 32, 6)
    }
    this.bytes.write(text, header)
    this.payload = this.bytes.subarray(header)
  }
}

/**
 * Sends a text frame on an open socket. A WireFrame is written to the TCP socket as is, unless the socket has
 * negotiated an extension (compression would rewrite it): then `ws` frames the payload.
 */
export function sendText (socket: WebSocket, frame: WireFrame | string): void {
  if (!(frame instanceof WireFrame)) return socket.send(frame, TEXT)
  const raw = tcp(socket)
  if (raw === undefined || socket.extensions !== '') return socket.send(frame.payload, TEXT)
  raw.write(frame.bytes)
}
