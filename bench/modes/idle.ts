import { collectGarbage, rssKiB } from '../lib/proc.js'
import { closeSwarm, openSwarm, setUp, type Protocol } from '../lib/swarm.js'

export interface IdleOptions { urls: string[], sockets: number, users: number, protocol: Protocol, serverPids: number[], settleS: number }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const MIN_COLLECTIONS = 6
const MAX_COLLECTIONS = 12
const perSocket = (kiB: number, sockets: number) => Math.round((kiB / sockets) * 100) / 100

/**
 * N idle member sockets in one room, and the server's memory per socket: the growth of its resident set (VmRSS of
 * the server processes, summed) while the sockets are opened and have settled, over their number. The first fifth
 * are opened before the first reading, so that the young generation of the heap and the pools that grow to
 * their working size early count as fixed cost, not as per-socket memory.
 * Each reading is taken after full garbage collections in every server, ours and the baseline alike (the bench
 * starts them able to, see bench/lib/gc-on-signal.mjs). Without them, the garbage of the upgrades, which the next
 * collection frees, counted as memory held by the sockets, the more so the more a server allocates per upgrade
 * (ours authenticates against the database; the baseline does not). Also reported: the growth without them
 * (`rawPerSocketKiB`, the reading before the first collection), and the growth of the heap in use after them
 * (`heapPerSocketKiB`), which varies far less from run to run than the resident set.
 */
export async function runIdle (options: IdleOptions) {
  if (options.serverPids.length === 0) throw new Error('idle mode needs --server-pid to read the server memory')
  const topology = { urls: options.urls, rooms: 1, members: options.sockets, users: options.users, protocol: options.protocol }
  const setup = await setUp(topology, 'idle')
  const rss = () => options.serverPids.reduce((sum, pid) => sum + rssKiB(pid), 0)
  /**
   * V8 hands the pages that a collection freed back to the system over the next collections and seconds, in steps
   * (here often a large one some 8 s after the first collection), so one collection is
   * not enough: they are repeated, two seconds apart, at least six times and until the resident set has not shrunk
   * by more than 0.5 % over the last three (bounded).
   */
  const read = async () => {
    await sleep(options.settleS * 1000)
    const readings = [rss()]
    let heap: number | undefined
    while (readings.length <= MAX_COLLECTIONS) {
      const heaps = await Promise.all(options.serverPids.map((pid) => collectGarbage(pid)))
      heap = heaps.includes(undefined) ? undefined : heaps.reduce<number>((sum, one) => sum + one!, 0)
      if (heap === undefined) break
      await sleep(2000)
      readings.push(rss())
      const [then, now] = [readings.at(-4)!, readings.at(-1)!]
      if (readings.length > MIN_COLLECTIONS && then - now < now * 0.005) break
    }
    return { raw: readings[0]!, rss: readings.at(-1)!, heap }
  }
  const warm = Math.floor(options.sockets / 5)
  const sockets = await openSwarm(topology, setup, () => {}, { from: 0, to: warm })
  const before = await read()
  const started = performance.now()
  sockets.push(...await openSwarm(topology, setup, () => {}, { from: warm, to: options.sockets }))
  const openS = (performance.now() - started) / 1000
  const after = await read()
  const closed = sockets.filter((s) => s.closedEarly).length
  closeSwarm(sockets)
  const measured = options.sockets - warm
  const collected = before.heap !== undefined && after.heap !== undefined
  return {
    mode: 'idle',
    sockets: options.sockets,
    measured,
    users: setup.accounts.length,
    garbageCollected: collected,
    rssBeforeKiB: before.rss,
    rssAfterKiB: after.rss,
    perSocketKiB: perSocket(after.rss - before.rss, measured),
    rawPerSocketKiB: perSocket(after.raw - before.raw, measured),
    heapPerSocketKiB: collected ? perSocket(after.heap! - before.heap!, measured) : null,
    openPerSec: Math.round(measured / openS),
    socketsClosed: closed
  }
}
