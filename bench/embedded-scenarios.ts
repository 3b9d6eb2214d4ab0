import { clean, cpuText, loopText, p99, shown, stored, target } from './lib/rows.js'
import type { Server } from './lib/servers.js'
import { int, msText, ratio, yes, type Row } from './lib/table.js'
import type { Context } from './scenarios.js'

/**
 * The embedded database (PGlite) against PostgreSQL: the same load on ours on each, back to back (PostgreSQL first),
 * so that each ratio compares runs taken seconds apart. 8: sends, 16 in flight per sender; 15: sends, 1 in flight;
 * 16: latency at 500 msgs/s in a 100-member room, with the server's event-loop delay (a query must not block it).
 */
export async function embeddedScenarios (ctx: Context, pg: Server, traffic: (members: number, loop: string[]) => string[],
  peers: { bare?: any, peer?: any }): Promise<Array<[number, Row]>> {
  const { wanted, measure } = ctx
  const rows: Array<[number, Row]> = []
  if (![8, 15, 16].some(wanted)) return rows
  const embedded = await ctx.startEmbedded()
  const both = async (label: string, args: string[], metric: (run: any) => number) => [
    await measure(`${label}, ours (PostgreSQL)`, [...target([pg]), ...args], metric),
    await measure(`${label}, ours (embedded)`, [...target([embedded]), ...args], metric)
  ]
  try {
    for (const [number, window] of [[8, 16], [15, 1]] as const) {
      if (!wanted(number)) continue
      const [p, e] = await both(`throughput, ${window} in flight`, traffic(10, ['--mode', 'throughput', '--window', String(window)]), stored)
      const share = e.storedPerSec / p.storedPerSec
      rows.push([number, {
        scenario: `embedded (PGlite), 10-member room, 10 senders, ${window} unacked each: stored msgs/s`,
        bare: window === 16 && peers.bare !== undefined ? int(peers.bare.storedPerSec) : '—',
        peer: window === 16 && peers.peer !== undefined ? int(peers.peer.storedPerSec) : '—',
        ours: shown(e, `${int(e.storedPerSec)}, ${share.toFixed(2)}× PostgreSQL's ${int(p.storedPerSec)} ` +
          `(${cpuText(e)}; on PostgreSQL ${cpuText(p).replace('CPU/msg: ', '')})`),
        ratio: window === 16 ? ratio(e.storedPerSec, peers.bare?.storedPerSec) : '—',
        peerRatio: window === 16 ? ratio(e.storedPerSec, peers.peer?.storedPerSec) : '—',
        target: `≥ 0.6 × PostgreSQL${window === 16 ? ' and ≥ 1,500' : ''}`,
        met: yes(share >= 0.6 && (window === 1 || e.storedPerSec >= 1500) && clean(p, e))
      }])
    }
    if (wanted(16)) {
      const [p, e] = await both('latency at 500 msgs/s', traffic(100, ['--mode', 'latency', '--rate', '500']), p99)
      const share = p99(e) / p99(p)
      const loopMax = e.serverLoopDelayMs?.max as number | undefined
      rows.push([16, {
        scenario: 'embedded (PGlite), 100-member room, 500 msgs/s: p99 send→deliver, and the event loop\'s longest delay',
        bare: '—',
        ours: shown(e, `${msText(p99(e))}, ${share.toFixed(2)}× PostgreSQL's ${msText(p99(p))}; ` +
          `${loopText(e)} (PostgreSQL: ${loopText(p).replace('loop max ', '')})`),
        ratio: '—',
        target: '≤ 2 × PostgreSQL\'s p99, loop max ≤ 11 ms (blocked ≤ 10 ms, at 1 ms resolution)',
        met: yes(share <= 2 && loopMax !== undefined && loopMax <= 11 && clean(p, e))
      }])
    }
  } finally {
    await ctx.stop(embedded)
  }
  return rows
}
