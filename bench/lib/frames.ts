/**
 * Reading server frames at 100,000+ a second without JSON.parse: the generator must not be the bottleneck it
 * measures. A message frame is found by its fields' keys; a key cannot occur inside a JSON string (its quotes
 * would be escaped), so the first `"seq":` is the seq. Anything else is parsed as JSON (rare frames).
 *
 * The bench's client_ids are `b<sender>.<n>.<microseconds>`: who sent it, and when (performance.now() of this
 * process), so every recipient can time send→deliver with no shared table.
 */
export const FrameKind = { other: 0, message: 1, error: 2 } as const

/** Filled by `scan` (one reused object, nothing allocated per frame); `code` for error frames only. */
export const frame = { seq: 0, sender: -1, sentAt: 0, code: '' }

const PREFIX = Buffer.from('{"type":"message",')
const READ_PREFIX = Buffer.from('{"type":"read",')
const SEQ = Buffer.from('"seq":')
const CLIENT_ID = Buffer.from('"client_id":"b')
const DOT = 46
const ZERO = 48

/** Whether `data` begins with `prefix` (and has more after it). */
const startsWith = (data: Buffer, prefix: Buffer) =>
  data.length > prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0

/** The integer at `at` (digits only) and where it ends. */
function readInt (data: Buffer, at: number): [number, number] {
  let value = 0
  let i = at
  for (; i < data.length; i++) {
    const digit = data[i]! - ZERO
    if (digit < 0 || digit > 9) break
    value = value * 10 + digit
  }
  return [value, i]
}

export function scan (data: Buffer): number {
  if (startsWith(data, PREFIX)) {
    const seqAt = data.indexOf(SEQ)
    if (seqAt < 0) return FrameKind.other
    frame.seq = readInt(data, seqAt + SEQ.length)[0]
    frame.sender = -1
    const idAt = data.indexOf(CLIENT_ID, seqAt)
    if (idAt >= 0) {
      const [sender, end] = readInt(data, idAt + CLIENT_ID.length)
      const [, end2] = readInt(data, end + 1)
      if (data[end] === DOT && data[end2] === DOT) {
        frame.sender = sender
        frame.sentAt = readInt(data, end2 + 1)[0]
      }
    }
    return FrameKind.message
  }
  // `read` frames, 10,000 a second in the read-frames scenario (22): none of their fields is looked at.
  if (startsWith(data, READ_PREFIX)) return FrameKind.other
  return scanSlow(data)
}

/** Frames in another key order (or not messages): parsed in full. */
function scanSlow (data: Buffer): number {
  let parsed: any
  try { parsed = JSON.parse(data.toString('utf8')) } catch { return FrameKind.other }
  const match = /^b(\d+)\.(\d+)\.(\d+)$/.exec(String(parsed?.client_id))
  frame.sender = match === null ? -1 : Number(match[1])
  frame.sentAt = match === null ? 0 : Number(match[3])
  if (parsed?.type === 'error') {
    frame.code = String(parsed.code)
    return FrameKind.error
  }
  if (parsed?.type !== 'message' || typeof parsed.seq !== 'number') return FrameKind.other
  frame.seq = parsed.seq
  return FrameKind.message
}

export const clientId = (sender: number, n: number, sentAtMicros: number) => `b${sender}.${n}.${sentAtMicros}`

const UPDATED_PREFIX = Buffer.from('{"type":"message_updated",')
const REV = Buffer.from('"rev":')

/** Filled by `scanChange`: the rev of a `message` or `message_updated` frame, and which of the two it is. */
export const change = { rev: 0, updated: false }

/**
 * Whether `data` is a `message` or `message_updated` frame, reading its rev (the first `"rev":` key: a message's
 * sender and reactions have none) into `change` without parsing the frame.
 */
export function scanChange (data: Buffer): boolean {
  const updated = startsWith(data, UPDATED_PREFIX)
  if (!updated && !startsWith(data, PREFIX)) return false
  const at = data.indexOf(REV)
  if (at < 0) return false
  change.rev = readInt(data, at + REV.length)[0]
  change.updated = updated
  return true
}
