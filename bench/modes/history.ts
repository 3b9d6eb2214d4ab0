import { createCursorCodec } from '../../src/lib/cursor.js'
import { call } from '../lib/api.js'
import { msStats } from '../lib/stats.js'
import { filledRoom } from './fill.js'

export interface HistoryOptions { url: string, databaseUrl: string, messages: number, pages: number, secretKey?: string | undefined }

const LIMIT = 50

/**
 * Page latency at depth: a room of N messages, then pages of 50 fetched one at a time over the REST API at the
 * newest page and at the deepest (the oldest 50), alternately, each followed by GET /healthz (the floor). Timed at
 * the client, so a figure includes HTTP.
 * The deepest page's cursor is signed here with the server's cursor secret (read from its database, or
 * SECRET_KEY), as walking N/50 pages to reach it would take far longer than the measurement.
 */
export async function runHistory (options: HistoryOptions) {
  const { url, messages, pages } = options
  if (messages < LIMIT * 2) throw new Error(`--messages must be at least ${LIMIT * 2}`)
  const { account, room, fillS, cursorSecret } = await filledRoom(url, options.databaseUrl, messages, 'hist')
  const secret = options.secretKey ?? cursorSecret
  if (secret === undefined) throw new Error('no cursor secret: pass --secret-key')
  const cursor = createCursorCodec(secret).encode(`messages:${room.id}`, { direction: 'n', key: LIMIT + 1 })
  const base = `/api/chat/groups/${room.name}/messages/?limit=${LIMIT}`
  const targets = {
    newest: { path: base, firstSeq: messages, times: [] as number[] },
    deepest: { path: `${base}&cursor=${encodeURIComponent(cursor)}`, firstSeq: LIMIT, times: [] as number[] }
  }
  // The floor: GET /healthz (no database, no auth) with the same client in the same loop, so a figure above can
  // be read as what the page itself costs, beyond what this machine's HTTP round trip costs anyway.
  const floor: number[] = []
  const warmup = Math.min(50, pages)
  for (let i = 0; i < warmup + pages; i++) {
    for (const target of Object.values(targets)) {
      const started = performance.now()
      const reply = await call<{ results: Array<{ seq: number }> }>(url, 'GET', target.path, { token: account.token })
      const elapsed = performance.now() - started
      if (reply.status !== 200 || reply.body.results.length !== LIMIT || reply.body.results[0]?.seq !== target.firstSeq) {
        throw new Error(`history page ${target.path}: unexpected answer ${reply.status}`)
      }
      if (i >= warmup) target.times.push(elapsed)
    }
    const started = performance.now()
    const health = await call(url, 'GET', '/healthz')
    if (health.status !== 200) throw new Error(`/healthz: unexpected answer ${health.status}`)
    if (i >= warmup) floor.push(performance.now() - started)
  }
  return {
    mode: 'history',
    messages,
    fillS: Math.round(fillS * 10) / 10,
    newestMs: msStats(targets.newest.times),
    deepestMs: msStats(targets.deepest.times),
    healthzMs: msStats(floor)
  }
}
