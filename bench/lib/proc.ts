import { readFileSync } from 'node:fs'

/** A process's resident memory in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds (pid: number): number {
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
