import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/** Past this much held back, the writes go out at once: a burst of large frames is not held in memory. */
const FLUSH_BYTES = 16 * 1024
const corked = new Set<Socket>()
let scheduled = false

function uncorkAll (): void {
  scheduled = false
  for (const socket of corked) socket.uncork()
  corked.clear()
}

/**
 * Holds a socket's writes until the work of the current tick is done, so that the frames of a committed batch
 * leave in one `writev` per socket (or one per FLUSH_BYTES) instead of two writes per frame. `ws` keeps its TCP
 * socket in `_socket` (and corks it around each frame itself; corks nest). FLUSH_BYTES is well below the least
 * SOCKET_BUFFER_LIMIT, so frames held here never make a reading socket look slow.
 */
export function corkForTick (socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: Socket })._socket
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
