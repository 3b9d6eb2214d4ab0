import WebSocket from 'ws'
import { FrameKind, frame, scan } from '../lib/frames.js'
import { summarize } from '../lib/stats.js'
import { filledRoom } from './fill.js'

export interface ResumeOptions { url: string, databaseUrl: string, behind: number, repeats: number }

const round = (n: number) => Math.round(n * 10) / 10

/**
 * Time to catch up after being away: a room of 2N messages, then a socket that connects with `last_seq` N behind
 * the last; timed from opening the socket to receiving the last replayed frame, and checked to be exactly the N
 * missed frames, in order. Repeated with a fresh socket each time.
 */
export async function runResume (options: ResumeOptions) {
  const { url, behind, repeats } = options
  const total = behind * 2
  const { account, room } = await filledRoom(url, options.databaseUrl, total, 'resume')
  const times: number[] = []
  for (let i = 0; i < repeats; i++) times.push(await replayOnce(url, room.name, account.token, total - behind, total))
  const s = summarize(times)
  return { mode: 'resume', behind, repeats, p50Ms: round(s.p50), maxMs: round(s.max) }
}

function replayOnce (base: string, room: string, token: string, lastSeq: number, target: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/chat/${room}/?token=${token}&last_seq=${lastSeq}`,
      { perMessageDeflate: false, skipUTF8Validation: true })
    let expected = lastSeq + 1
    const timer = setTimeout(() => fail(new Error(`replay incomplete after 30 s: at seq ${expected - 1} of ${target}`)), 30_000)
    const fail = (error: Error) => { clearTimeout(timer); ws.terminate(); reject(error) }
    // Attached at once: replayed frames may follow the upgrade immediately.
    ws.on('message', (data: Buffer) => {
      if (scan(data) !== FrameKind.message) return
      if (frame.seq !== expected) return fail(new Error(`replay out of order: got seq ${frame.seq}, expected ${expected}`))
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
