import type { Context } from './scenarios.js'
import { integrity, int, msText, yes, type Row } from './lib/table.js'

/**
 * The home screen (0.2: read state, unread counts, search), on our PostgreSQL server: the room list of a user in
 * many full rooms against one in as many empty rooms, search against history, and read frames against none.
 * `server` is the load generator's `--url … --server-pid …`; `latency` the 100-member 50 msgs/s traffic arguments.
 */
export async function homeScenarios (ctx: Context, server: string[], latency: string[]): Promise<Array<[number, Row]>> {
  const { sizes, wanted, measure } = ctx
  const rows: Array<[number, Row]> = []
  if (wanted(20)) {
    const r = await measure('room list, ours', [...server, '--mode', 'rooms', '--database-url', ctx.databaseUrl,
      '--rooms', String(sizes.homeRooms), '--messages', String(sizes.homeMessages)], (run) => run.p99Ratio, 900)
    rows.push([20, {
      scenario: `GET /api/chat/groups/ for a user in ${sizes.homeRooms} rooms of ${int(sizes.homeMessages)} messages, all unread, ` +
        `vs ${sizes.homeRooms} empty rooms: p99`,
      bare: '—',
      ours: `${msText(r.fullMs.p99)} vs ${msText(r.emptyMs.p99)} (p50 ${msText(r.fullMs.p50)} / ${msText(r.emptyMs.p50)}; ` +
        `/healthz p99 ${msText(r.healthzMs.p99)})`,
      ratio: `${r.p99Ratio.toFixed(2)}× empty`,
      target: '≤ 2 × the empty rooms\' p99',
      met: yes(r.p99Ratio <= 2)
    }])
  }
  if (wanted(21)) {
    const r = await measure('search, ours', [...server, '--mode', 'search', '--database-url', ctx.databaseUrl,
      '--messages', String(sizes.searchMessages), '--small', '1000'], (run) => Math.max(run.big.commonRatio, run.big.rareRatio), 900)
    const text = (room: any) => `rare ${msText(room.rareMs.p99)}, 1 % ${msText(room.commonMs.p99)}, history ${msText(room.historyMs.p99)}`
    const worst = Math.max(r.big.rareRatio, r.big.commonRatio, r.small.rareRatio, r.small.commonRatio)
    rows.push([21, {
      scenario: `search, a page of 50, in a ${int(sizes.searchMessages)}-message room and a 1,000-message one: p99 for a rare word and ` +
        'a word in 1 % of messages vs a history page of 50',
      bare: '—',
      ours: `big: ${text(r.big)}; small: ${text(r.small)}`,
      ratio: `${worst.toFixed(2)}× history (worst)`,
      target: '≤ 3 × the history page\'s p99, in both rooms',
      met: yes(worst <= 3)
    }])
  }
  if (wanted(22)) {
    const plain = await measure('100 members at 50 msgs/s, ours', [...server, ...latency], (run) => run.latencyMs.p99)
    const reading = await measure('the same, every member reading every message, ours', [...server, ...latency, '--read-frames'],
      (run) => run.latencyMs.p99)
    const storedRatio = reading.storedPerSec / plain.storedPerSec
    const p99Ratio = reading.latencyMs.p99 / plain.latencyMs.p99
    const problems = [integrity(plain), integrity(reading)].filter((p) => p !== undefined)
    rows.push([22, {
      scenario: '100-member room, 50 msgs/s, every member sending a read frame for every message: stored msgs/s and p99 vs none',
      bare: '—',
      ours: `${int(reading.storedPerSec)} msgs/s, p99 ${msText(reading.latencyMs.p99)} vs ${int(plain.storedPerSec)}, ` +
        `${msText(plain.latencyMs.p99)}${problems.length === 0 ? '' : ` (${problems.join(', ')})`}`,
      ratio: `${storedRatio.toFixed(2)}× msgs/s, ${p99Ratio.toFixed(2)}× p99`,
      target: 'within 10 % of the run without read frames',
      met: yes(storedRatio >= 0.9 && p99Ratio <= 1.1 && problems.length === 0)
    }])
  }
  return rows
}
