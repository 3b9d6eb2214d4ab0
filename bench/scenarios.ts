import { embeddedScenarios } from './embedded-scenarios.js'
import { clean, cpuText, deliveries, loopText, memoryText, p99, shown, stored, target } from './lib/rows.js'
import type { Server } from './lib/servers.js'
import { homeScenarios } from './home-scenarios.js'
import { int, integrity, msText, ratio, yes, type Row } from './lib/table.js'

export interface Sizes {
  durationS: number
  warmupS: number
  idleSockets: number
  historyMessages: number
  historyPages: number
  behind: number
  bigRoom: number
  users: number
  repeat: number
  /** Members of the reactions room, and its rounds (one emoji each). */
  reactors: number
  rounds: number
  /** Changes the changes feed is paged through. */
  changes: number
  /** Interleaved rounds of the comparison with another build (`--against`). */
  abRounds: number
  /** The room list: rooms of the user, and messages in each; search: messages in the big room. */
  homeRooms: number
  homeMessages: number
  searchMessages: number
}

export interface Context {
  sizes: Sizes
  wanted: (scenario: number) => boolean
  measure: (label: string, args: string[], metric: (run: any) => number, timeoutS?: number) => Promise<any>
  log: (line: string) => void
  startBare: () => Promise<Server>
  startSocketIo: () => Promise<Server>
  startPg: () => Promise<Server>
  startEmbedded: () => Promise<Server>
  startRedisPair: () => Promise<Server[]>
  stop: (server: Server) => Promise<void>
  databaseUrl: string
  /** Another checkout whose build is compared with this one (`--against`), if any. */
  against: string | undefined
  /** This build or the other one, on a database (or data directory) of its own. */
  startFresh: (build: 'this' | 'against', embedded: boolean) => Promise<Server>
}

/**
 * The standard scenarios, numbered as in docs/benchmarks.md (`--only` takes those numbers), each with its target.
 * The baseline, the Socket.IO peer and ours run each scenario back to back, so the ratios compare
 * figures taken moments apart on the same (shared, noisy) machine.
 */
export async function scenarios (ctx: Context): Promise<Row[]> {
  const { sizes, wanted, measure } = ctx
  const rows = new Map<number, Row>()
  const traffic = (members: number, senders: number, loop: string[]) => [
    '--members', String(members), '--senders', String(senders), ...loop, '--users', String(sizes.users),
    '--duration', String(sizes.durationS), '--warmup', String(sizes.warmupS)
  ]
  const throughput = traffic(10, 10, ['--mode', 'throughput', '--window', '16'])
  const bigRoom = traffic(sizes.bigRoom, 10, ['--mode', 'throughput', '--window', '16'])
  /** The bare baseline, the Socket.IO peer and ours, one right after the other. */
  const trio = async (label: string, servers: Server[][], args: string[], metric: (run: any) => number, timeoutS?: number) => {
    const [bare, peer, ours] = [servers[0]!, servers[1]!, servers[2]!]
    return [
      await measure(`${label}, bare ws`, [...target(bare), ...args], metric, timeoutS),
      await measure(`${label}, Socket.IO`, [...target(peer), ...args], metric, timeoutS),
      await measure(`${label}, ours`, [...target(ours), ...args], metric, timeoutS)
    ]
  }

  let throughputBare: any
  let throughputPeer: any
  let bigRoomBare: any
  let bigRoomOurs: any
  let throughputOurs: any
  if ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 20, 21, 22].some(wanted)) {
    const bare = await ctx.startBare()
    const peer = await ctx.startSocketIo()
    const ours = await ctx.startPg()
    const all = [[bare], [peer], [ours]]

    // First, on fresh processes: memory per socket is cleanest before any traffic.
    if (wanted(5)) {
      const args = ['--mode', 'idle', '--sockets', String(sizes.idleSockets), '--users', String(sizes.users)]
      const [b, p, o] = await trio('idle', all, args, (run) => run.perSocketKiB)
      rows.set(5, {
        scenario: `${int(sizes.idleSockets)} idle sockets: server memory per socket`,
        bare: memoryText(b),
        peer: memoryText(p),
        ours: memoryText(o),
        ratio: ratio(o.perSocketKiB, b.perSocketKiB),
        peerRatio: ratio(o.perSocketKiB, p.perSocketKiB),
        target: '≤ 9 KiB',
        met: yes(o.perSocketKiB <= 9 && o.socketsClosed === 0)
      })
      await new Promise((resolve) => setTimeout(resolve, 2000))
    }
    /** Sends of a 10-member room, `window` unacknowledged per sender, on the three servers: stored msgs/s. */
    const sends = async (window: number, target: string, met: (b: any, p: any, o: any) => boolean) => {
      const args = window === 16 ? throughput : traffic(10, 10, ['--mode', 'throughput', '--window', String(window)])
      const [b, p, o] = await trio(window === 16 ? 'throughput' : `throughput, ${window} in flight`, all, args, stored)
      const row: Row = {
        scenario: `10-member room, 10 senders, ${window} unacked each: stored msgs/s`,
        bare: shown(b, int(b.storedPerSec)),
        peer: shown(p, int(p.storedPerSec)),
        ours: shown(o, `${int(o.storedPerSec)} (${cpuText(o)})`),
        ratio: ratio(o.storedPerSec, b.storedPerSec),
        peerRatio: ratio(o.storedPerSec, p.storedPerSec),
        target,
        met: yes(met(b.storedPerSec, p.storedPerSec, o.storedPerSec) && clean(b, p, o))
      }
      return { b, p, o, row }
    }
    // Scenario 10's target is relative to this one's figure, so it runs this too.
    if (wanted(1) || wanted(8) || wanted(10)) {
      const { b, p, o, row } = await sends(16, '≥ 6,000 and ≥ 0.35 × bare ws', (b, _, o) => o >= 6000 && o >= 0.35 * b)
      throughputBare = b
      throughputPeer = p
      throughputOurs = o
      rows.set(1, row)
    }
    if (wanted(17)) rows.set(17, (await sends(1, '≥ 0.5 × bare ws and ≥ Socket.IO', (b, p, o) => o >= 0.5 * b && o >= p)).row)
    // Right after scenario 1: the embedded database against PostgreSQL, ours on each back to back.
    const embeddedTraffic = (members: number, loop: string[]) => traffic(members, 10, loop)
    for (const [number, row] of await embeddedScenarios(ctx, ours, embeddedTraffic, { bare: throughputBare, peer: throughputPeer })) {
      rows.set(number, row)
    }
    if (wanted(2) || wanted(9)) {
      const [b, p, o] = await trio('big room', all, bigRoom, deliveries)
      bigRoomBare = b
      bigRoomOurs = o
      rows.set(2, {
        scenario: `${int(sizes.bigRoom)}-member room, 10 senders: deliveries/s`,
        bare: shown(b, int(b.deliveriesPerSec)),
        peer: shown(p, int(p.deliveriesPerSec)),
        ours: shown(o, int(o.deliveriesPerSec)),
        ratio: ratio(o.deliveriesPerSec, b.deliveriesPerSec),
        peerRatio: ratio(o.deliveriesPerSec, p.deliveriesPerSec),
        target: '≥ 0.8 × bare ws',
        met: yes(o.deliveriesPerSec >= 0.8 * b.deliveriesPerSec && clean(b, o))
      })
    }
    for (const [number, rate, bound] of [[3, 20, 8], [4, 500, 10]] as const) {
      if (!wanted(number) && !(number === 3 && wanted(18))) continue
      const args = traffic(100, 10, ['--mode', 'latency', '--rate', String(rate)])
      const [b, p, o] = await trio(`latency at ${rate} msgs/s`, all, args, p99)
      if (number === 3) {
        // The same runs, against the bare server's own latency rather than a fixed bound.
        const p50 = (run: any) => run.latencyMs.p50 as number
        rows.set(18, {
          scenario: '100-member room, 20 msgs/s (as 3): p50 · p99 send→deliver against the bare server\'s',
          bare: shown(b, `${msText(p50(b))} · ${msText(p99(b))}`),
          peer: shown(p, `${msText(p50(p))} · ${msText(p99(p))}`),
          ours: shown(o, `${msText(p50(o))} · ${msText(p99(o))}`),
          ratio: `p50 +${msText(p50(o) - p50(b))}, p99 ${ratio(p99(o), p99(b))}`,
          peerRatio: ratio(p99(o), p99(p)),
          target: 'p50 ≤ bare ws p50 + 1 ms, p99 ≤ 1.3 × bare ws p99',
          met: yes(p50(o) <= p50(b) + 1 && p99(o) <= 1.3 * p99(b) && clean(b, o))
        })
        if (!wanted(3)) continue
      }
      rows.set(number, {
        scenario: `100-member room, ${rate} msgs/s: p99 send→deliver`,
        bare: shown(b, msText(p99(b))),
        peer: shown(p, msText(p99(p))),
        ours: shown(o, `${msText(p99(o))} (${loopText(o)})`),
        ratio: ratio(p99(o), p99(b)),
        peerRatio: ratio(p99(o), p99(p)),
        target: `≤ ${bound} ms`,
        met: yes(p99(o) <= bound && clean(b, o))
      })
    }
    if (wanted(6)) {
      const h = await measure('history, ours', [...target([ours]), '--mode', 'history', '--database-url', ctx.databaseUrl,
        '--messages', String(sizes.historyMessages), '--pages', String(sizes.historyPages)], (run) => run.deepestMs.p99, 600)
      const { newestMs: n, deepestMs: d } = h
      const equal = Math.abs(d.p50 - n.p50) <= Math.max(0.5, 0.25 * n.p50)
      rows.set(6, {
        scenario: `history page of 50 in a ${int(sizes.historyMessages)}-message room: p99 newest / deepest`,
        bare: '—',
        // GET /healthz in the same loop: what any request costs on this machine at that moment.
        ours: `${msText(n.p99)} / ${msText(d.p99)} (p50 ${msText(n.p50)} / ${msText(d.p50)}; /healthz p99 ${msText(h.healthzMs.p99)})`,
        ratio: '—',
        target: 'p99 ≤ 5 ms, equal at the newest page and the deepest',
        met: yes(n.p99 <= 5 && d.p99 <= 5 && equal)
      })
    }
    if (wanted(7)) {
      const r = await measure('resume, ours', [...target([ours]), '--mode', 'resume', '--database-url', ctx.databaseUrl,
        '--behind', String(sizes.behind)], (run) => run.maxMs)
      rows.set(7, {
        scenario: `reconnect with last_seq ${int(sizes.behind)} behind: last replayed frame`,
        bare: '—',
        ours: `${msText(r.maxMs)} max (p50 ${msText(r.p50Ms)}, ${r.repeats} runs)`,
        ratio: '—',
        target: '≤ 1 s',
        met: yes(r.maxMs <= 1000)
      })
    }
    for (const [number, row] of await revScenarios(ctx, target([ours]), throughputOurs)) rows.set(number, row)
    const latency = traffic(100, 10, ['--mode', 'latency', '--rate', '50'])
    for (const [number, row] of await homeScenarios(ctx, target([ours]), latency)) rows.set(number, row)
    await ctx.stop(bare)
    await ctx.stop(peer)
    await ctx.stop(ours)
  }

  if (wanted(9)) rows.set(9, await redisPair(ctx, bigRoom, bigRoomBare, bigRoomOurs))
  for (const [number, embedded] of [[13, false], [14, true]] as const) {
    if (wanted(number)) rows.set(number, await againstOther(ctx, throughput, embedded))
  }
  if (wanted(19)) rows.set(19, await againstOther(ctx, traffic(10, 10, ['--mode', 'throughput', '--window', '1']), false, 1))
  return [...rows.entries()].sort(([a], [b]) => a - b).map(([, row]) => row)
}

/** The big room spread over two instances that share Redis; "n/a" when the server has no Redis broker (yet). */
async function redisPair (ctx: Context, bigRoom: string[], bigRoomBare: any, bigRoomOurs: any): Promise<Row> {
  const scenario = '2 instances + Redis, the big room spread over both: deliveries/s'
  const oneInstance = bigRoomOurs?.deliveriesPerSec as number | undefined
  const na = (why: string): Row => ({
    scenario, bare: '—', ours: `n/a (${why})`, ratio: '—', target: '≥ 1.5 × one instance', met: 'n/a'
  })
  let servers: Server[]
  try {
    servers = await ctx.startRedisPair()
  } catch (error) {
    ctx.log(`redis pair: ${(error as Error).message}`)
    return na('instances did not start with REDIS_URL')
  }
  try {
    const probe = await ctx.measure('redis probe', [...target(servers), '--mode', 'probe'], () => 0)
    if (probe.crossInstance !== true) return na('no Redis broker')
    const o = await ctx.measure('big room on 2 instances + Redis, ours', [...target(servers), ...bigRoom], deliveries)
    return {
      scenario,
      bare: bigRoomBare === undefined ? '—' : int(bigRoomBare.deliveriesPerSec),
      ours: shown(o, int(o.deliveriesPerSec)),
      ratio: ratio(o.deliveriesPerSec, bigRoomBare?.deliveriesPerSec),
      target: `≥ 1.5 × one instance${oneInstance === undefined ? '' : ` (${int(1.5 * oneInstance)})`}`,
      met: oneInstance === undefined ? '—' : yes(o.deliveriesPerSec >= 1.5 * oneInstance && clean(o))
    }
  } finally {
    for (const server of servers) await ctx.stop(server)
  }
}

/** Reactions, resume by rev and the changes feed (0.2: the room as a log of changes), on our PostgreSQL server. */
async function revScenarios (ctx: Context, server: string[], throughputOurs: any): Promise<Array<[number, Row]>> {
  const { sizes, wanted, measure } = ctx
  const rows: Array<[number, Row]> = []
  if (wanted(10)) {
    const r = await measure('reactions, ours', [...server, '--mode', 'reactions', '--members', String(sizes.reactors),
      '--rounds', String(sizes.rounds)], (run) => run.changesPerSec)
    const sends = throughputOurs.storedPerSec as number
    const problems = [integrity(r), r.socketsDiffering > 0 ? `${r.socketsDiffering} sockets end with other counts` : undefined,
      r.storedMatches === true ? undefined : 'the stored message is not as expected'].filter((p) => p !== undefined)
    rows.push([10, {
      scenario: `${sizes.reactors} members with a socket each, all reacting to one message, ${sizes.rounds} rounds: changes/s`,
      bare: '—',
      ours: `${int(r.changesPerSec)} (p99 PUT ${msText(r.latencyMs.p99)}; every socket the same counts: ` +
        `${r.socketsDiffering === 0 ? 'yes' : 'NO'})${problems.length === 0 ? '' : ` (${problems.join(', ')})`}`,
      ratio: `${(r.changesPerSec / sends).toFixed(2)}× scenario 1`,
      target: `≥ 0.5 × scenario 1's stored msgs/s (${int(0.5 * sends)}), identical counts`,
      met: yes(r.changesPerSec >= 0.5 * sends && problems.length === 0)
    }])
  }
  if (wanted(11)) {
    const r = await measure('resume by rev, ours', [...server, '--mode', 'resume', '--by', 'rev', '--database-url', ctx.databaseUrl,
      '--behind', String(sizes.behind)], (run) => run.maxMs)
    rows.push([11, {
      scenario: `reconnect with last_rev ${int(sizes.behind)} changes behind (half new, half edits and reactions): last replayed frame`,
      bare: '—',
      ours: `${msText(r.maxMs)} max (p50 ${msText(r.p50Ms)}, ${r.repeats} runs)`,
      ratio: '—',
      target: '≤ 1 s',
      met: yes(r.maxMs <= 1000)
    }])
  }
  if (wanted(12)) {
    const r = await measure('changes feed, ours', [...server, '--mode', 'changes', '--database-url', ctx.databaseUrl,
      '--changes', String(sizes.changes)], (run) => run.p99Ratio, 600)
    const { changesMs: c, historyMs: h } = r
    rows.push([12, {
      scenario: `changes/?since= through ${int(sizes.changes)} changes, pages of 100: p99 per page vs a history page of 100`,
      bare: '—',
      ours: `${msText(c.p99)} vs ${msText(h.p99)} (p50 ${msText(c.p50)} / ${msText(h.p50)}; /healthz p99 ${msText(r.healthzMs.p99)})`,
      ratio: `${r.p99Ratio.toFixed(2)}× history`,
      target: '≤ 2 × the history page\'s p99',
      met: yes(r.p99Ratio <= 2)
    }])
  }
  return rows
}

/**
 * The 10-member send scenario (1 on PostgreSQL, 8 embedded) on this build and on another checkout's (`--against`,
 * before 0.2 in docs/benchmarks.md), each on a fresh database, in interleaved rounds: the other first in even
 * rounds, this one first in odd ones. The ratio is the median of the rounds' ratios, each of two runs moments apart.
 */
async function againstOther (ctx: Context, throughput: string[], embedded: boolean, window = 16): Promise<Row> {
  const { sizes, measure } = ctx
  const as = window === 1 ? 'as 17' : embedded ? 'as 8' : 'as 1'
  const scenario = `10-member room, ${window} in flight, sends ${embedded ? 'on the embedded database' : 'on PostgreSQL'} (${as}): ` +
    `stored msgs/s${window === 1 ? ' and CPU per message' : ''}, this build vs --against (bare ws column)`
  const targetText = '≥ 0.9 × the other build (no worse, within the noise)'
  if (ctx.against === undefined) return { scenario, bare: '—', ours: 'n/a (no --against)', ratio: '—', target: targetText, met: 'n/a' }
  const servers = { this: await ctx.startFresh('this', embedded), against: await ctx.startFresh('against', embedded) }
  const figures = { this: [] as number[], against: [] as number[] }
  const cpu = { this: [] as string[], against: [] as string[] }
  try {
    for (let i = 0; i < sizes.abRounds; i++) {
      for (const which of i % 2 === 0 ? ['against', 'this'] as const : ['this', 'against'] as const) {
        const run = await measure(`round ${i + 1}, ${which === 'this' ? 'this build' : 'the other build'}${embedded ? ', embedded' : ''}`,
          [...target([servers[which]]), ...throughput], stored)
        if (integrity(run) !== undefined) throw new Error(`round ${i + 1}, ${which}: ${integrity(run)}`)
        figures[which].push(run.storedPerSec)
        cpu[which].push(cpuText(run).replace('CPU/msg: ', ''))
      }
    }
  } finally {
    await ctx.stop(servers.this)
    await ctx.stop(servers.against)
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const ratios = figures.this.map((n, i) => n / figures.against[i]!)
  const r = median(ratios)
  // At one in flight the CPU per message of each round is shown too: what a batch costs.
  const cpuOf = (which: 'this' | 'against') => window === 1 ? `; CPU/msg ${cpu[which].join('; ')}` : ''
  return {
    scenario,
    bare: `${int(median(figures.against))} (${figures.against.map(int).join(', ')}${cpuOf('against')})`,
    ours: `${int(median(figures.this))} (${figures.this.map(int).join(', ')}; ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}${cpuOf('this')})`,
    ratio: `${r.toFixed(2)}×`,
    target: targetText,
    met: yes(r >= 0.9)
  }
}
