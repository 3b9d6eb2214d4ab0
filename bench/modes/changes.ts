import { timedGet } from '../lib/api.js'
import { msStats } from '../lib/stats.js'
import { changedRoom } from './fill.js'

export interface ChangesOptions { url: string, databaseUrl: string, changes: number }

const LIMIT = 100
const WARMUP_PAGES = 50

interface ChangesPage { results: Array<{ rev: number }>, rev: number, has_more: boolean }
interface HistoryPage { results: Array<{ seq: number }>, next: string | null }

/**
 * The changes feed against history: a room whose log ends with N changes (bench/modes/fill.ts), then
 * `GET changes/?since=…&limit=100` from before them to the end (N / 100 pages, each checked to be the next 100 revs),
 * alternating with a history page of 100 (`GET messages/?limit=100`, newest first, following `next`) and
 * `GET /healthz` (the floor), one request at a time, after an unmeasured walk of 50 pages of each.
 */
export async function runChanges (options: ChangesOptions) {
  const { url, changes } = options
  if (changes % LIMIT !== 0 || changes < LIMIT * WARMUP_PAGES) throw new Error(`--changes must be a multiple of ${LIMIT}, at least ${LIMIT * WARMUP_PAGES}`)
  const { account, room, fillS } = await changedRoom(url, options.databaseUrl, changes, 'chg')
  const get = <T>(path: string) => timedGet<T>(url, account.token, path)

  const walk = async (pages: number, times?: { changes: number[], history: number[], healthz: number[] }) => {
    let since = changes
    let history: string | null = `/api/chat/groups/${room.name}/messages/?limit=${LIMIT}`
    let seq = Infinity
    for (let i = 0; i < pages; i++) {
      const c = await get<ChangesPage>(`/api/chat/groups/${room.name}/changes/?since=${since}&limit=${LIMIT}`)
      const revs = c.body.results.map((m) => m.rev)
      if (revs.length !== LIMIT || revs.some((rev, k) => rev !== since + 1 + k) || c.body.rev !== since + LIMIT ||
        c.body.has_more !== (since + LIMIT < 2 * changes)) {
        throw new Error(`changes since ${since}: not the next ${LIMIT} revs (${revs[0]}..${revs.at(-1)}, rev ${c.body.rev}, has_more ${c.body.has_more})`)
      }
      since = c.body.rev
      const h: { body: HistoryPage, ms: number } = await get<HistoryPage>(history!)
      const seqs = h.body.results.map((m) => m.seq)
      if (seqs.length !== LIMIT || (seq !== Infinity && seqs[0] !== seq - 1)) throw new Error(`history page ${history}: unexpected seqs`)
      seq = seqs.at(-1)!
      history = h.body.next === null ? null : (({ pathname, search }) => pathname + search)(new URL(h.body.next))
      const floor = await get('/healthz')
      times?.changes.push(c.ms)
      times?.history.push(h.ms)
      times?.healthz.push(floor.ms)
      if (history === null) break
    }
    return since
  }
  await walk(WARMUP_PAGES)
  const times = { changes: [] as number[], history: [] as number[], healthz: [] as number[] }
  const last = await walk(changes / LIMIT, times)
  if (last !== 2 * changes) throw new Error(`the changes feed ended at rev ${last}, not ${2 * changes}`)
  const changesMs = msStats(times.changes)
  const historyMs = msStats(times.history)
  return {
    mode: 'changes',
    changes,
    fillS: Math.round(fillS * 10) / 10,
    changesMs,
    historyMs,
    healthzMs: msStats(times.healthz),
    p99Ratio: Math.round((changesMs.p99 / historyMs.p99) * 100) / 100
  }
}
