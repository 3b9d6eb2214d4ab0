import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A process's resident memory in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

/**
 * Has a server the bench started run a full garbage collection (bench/lib/gc-on-signal.mjs) and waits for it;
 * returns its heap in use after it, in KiB, or undefined when the server was not started with that preload.
 */
export async function collectGarbage (pid: number, timeoutMs = 10_000): Promise<number | undefined> {
  const file = join(tmpdir(), `chat-bench-gc-${pid}.json`)
  rmSync(file, { force: true })
  process.kill(pid, 'SIGWINCH')
  const deadline = performance.now() + timeoutMs
  while (!existsSync(file)) {
    if (performance.now() > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Written with one synchronous call: once it parses, it is whole.
  for (;;) {
    try {
      const { heapUsed } = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number }
      rmSync(file, { force: true })
      return Math.round(heapUsed / 1024)
    } catch (error) {
      if (performance.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticksPerSecond = 100 // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** Parses a comma-separated pid list (several instances); empty when none was given. */
export const pids = (value: string | undefined): number[] =>
  value === undefined || value === '' ? [] : value.split(',').map(Number)

/** CPU used by `pids` between two readings, as a percentage of one core. */
export function cpuMeter (list: number[]) {
  const read = () => list.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
  const startCpu = read()
  const start = performance.now()
  return () => list.length === 0 ? null : Math.round(((read() - startCpu) / ((performance.now() - start) / 1000)) * 100)
}
