import WebSocket from 'ws'
import { FrameKind, change, frame, scan, scanChange } from '../lib/frames.js'
import { summarize } from '../lib/stats.js'
import { changedRoom, filledRoom } from './fill.js'

export interface ResumeOptions { url: string, databaseUrl: string, behind: number, repeats: number, by: 'seq' | 'rev' }

const round = (n: number) => Math.round(n * 10) / 10

/**
 * Time to catch up after being away, timed from opening the socket to receiving the last replayed frame, and
 * checked to be exactly the missed frames, in order. Repeated with a fresh socket each time.
 * By seq: a room of 2N messages, and `last_seq` N behind the last. By rev: a room whose log ends with N changes,
 * half of them new messages and half edits and reactions of older ones (bench/modes/fill.ts), and `last_rev`
 * before them: N/2 `message` and N/2 `message_updated` frames, revs in order, each of the right kind.
 */
export async function runResume (options: ResumeOptions) {
  const { url, behind, repeats, by } = options
  const total = behind * 2
  const { account, room } = by === 'seq'
    ? await filledRoom(url, options.databaseUrl, total, 'resume')
    : await changedRoom(url, options.databaseUrl, behind, 'resume')
  const times: number[] = []
  for (let i = 0; i < repeats; i++) times.push(await replayOnce(url, room.name, account.token, by, total - behind, total))
  const s = summarize(times)
  return { mode: 'resume', by, behind, repeats, p50Ms: round(s.p50), maxMs: round(s.max) }
}

/** The frame's position (seq or rev), or undefined when it is not one the replay sends; checks its kind by rev. */
function position (data: Buffer, by: 'seq' | 'rev', fromRev: number): number | undefined {
  if (by === 'seq') return scan(data) === FrameKind.message ? frame.seq : undefined
  if (!scanChange(data)) return undefined
  // Odd revs after the resume point are new messages (`message`), even ones changes of older ones.
  const expectUpdated = (change.rev - fromRev) % 2 === 0
  return change.updated === expectUpdated ? change.rev : -change.rev
}

function replayOnce (base: string, room: string, token: string, by: 'seq' | 'rev', last: number, target: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/chat/${room}/?token=${token}&last_${by}=${last}`,
      { perMessageDeflate: false, skipUTF8Validation: true })
    let expected = last + 1
    const timer = setTimeout(() => fail(new Error(`replay incomplete after 30 s: at ${by} ${expected - 1} of ${target}`)), 30_000)
    const fail = (error: Error) => { clearTimeout(timer); ws.terminate(); reject(error) }
    // Attached at once: replayed frames may follow the upgrade immediately.
    ws.on('message', (data: Buffer) => {
      const at = position(data, by, last)
      if (at === undefined) return
      if (at < 0) return fail(new Error(`replay: rev ${-at} came as the wrong kind of frame`))
      if (at !== expected) return fail(new Error(`replay out of order: got ${by} ${at}, expected ${expected}`))
      if (expected++ === target) {
        const elapsed = performance.now() - started
        clearTimeout(timer)
        ws.terminate()
        resolve(elapsed)
      }
    })
    ws.on('unexpected-response', (_req, res) => fail(new Error(`socket refused: HTTP ${res.statusCode}`)))
    ws.on('error', fail)
  })
}
