import type { Server } from './servers.js'
import { integrity, msText } from './table.js'

/** The load generator's arguments that point it at `servers` (several instances of one server, or one). */
export const target = (servers: Server[]) => [
  '--url', servers.map((s) => s.url).join(','), '--server-pid', servers.map((s) => s.pid).join(','),
  '--protocol', servers[0]!.protocol,
  ...servers[0]!.databaseUrl === undefined ? [] : ['--database-cpu', servers[0]!.databaseUrl]
]
export const stored = (run: any) => run.storedPerSec as number
export const deliveries = (run: any) => run.deliveriesPerSec as number
export const p99 = (run: any) => run.latencyMs.p99 as number

/** The figure, or the figure and what went wrong with the frames (which fails the row). */
export const shown = (run: any, text: string) => {
  const problem = integrity(run)
  return problem === undefined ? text : `${text} (${problem})`
}
/** Memory per socket: the resident set (what the target is about), and the heap in use, steadier from run to run. */
export const memoryText = (run: any) =>
  `${run.perSocketKiB.toFixed(1)} KiB${run.heapPerSocketKiB === null ? '' : ` (heap ${run.heapPerSocketKiB.toFixed(1)} KiB)`}`
export const clean = (...runs: any[]) => runs.every((run) => run === undefined || integrity(run) === undefined)

/**
 * Where a traffic run's CPU went, per stored message: our server and the PostgreSQL backends serving its database,
 * or, embedded, the server's event loop (main thread) and its other threads (the database's worker, GC helpers).
 */
export function cpuText (run: any): string {
  if (run.databaseCpuUsPerMsg !== undefined && run.databaseCpuUsPerMsg !== null) {
    return `CPU/msg: server ${run.serverCpuUsPerMsg} µs + PostgreSQL ${run.databaseCpuUsPerMsg} µs`
  }
  const threads = run.serverThreadsCpuPct
  if (threads === undefined || run.storedPerSec === 0) return `CPU/msg: server ${run.serverCpuUsPerMsg} µs`
  const us = (pct: number) => Math.round((pct / 100) * 1e6 / run.storedPerSec)
  return `CPU/msg: main thread ${us(threads.main)} µs + other threads ${us(threads.others)} µs`
}

/** The server's event-loop delay over the run's window, when it was read. */
export const loopText = (run: any) => run.serverLoopDelayMs === undefined
  ? 'loop max n/a'
  : `loop max ${msText(run.serverLoopDelayMs.max)}, GC pause max ${msText(run.serverLoopDelayMs.gcMax)}`
