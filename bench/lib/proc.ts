import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A process's resident memory in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

/**
 * Sends `signal` to a server the bench started with its preloads (bench/lib/*.mjs) and waits for the file it answers
 * with, `chat-bench-<name>-<pid>.json`; returns what it holds, or undefined when no answer came within `timeoutMs`
 * (a server without that preload).
 */
async function ask (pid: number, signal: NodeJS.Signals, name: string, timeoutMs: number): Promise<any> {
  const file = join(tmpdir(), `chat-bench-${name}-${pid}.json`)
  rmSync(file, { force: true })
  process.kill(pid, signal)
  const deadline = performance.now() + timeoutMs
  while (!existsSync(file)) {
    if (performance.now() > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Written with one synchronous call: once it parses, it is whole.
  for (;;) {
    try {
      const answer = JSON.parse(readFileSync(file, 'utf8'))
      rmSync(file, { force: true })
      return answer
    } catch (error) {
      if (performance.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/**
 * Has a server the bench started run a full garbage collection (bench/lib/gc-on-signal.mjs) and waits for it;
 * returns its heap in use after it, in KiB, or undefined when the server was not started with that preload.
 */
export async function collectGarbage (pid: number, timeoutMs = 10_000): Promise<number | undefined> {
  const answer = await ask(pid, 'SIGWINCH', 'gc', timeoutMs) as { heapUsed: number } | undefined
  return answer === undefined ? undefined : Math.round(answer.heapUsed / 1024)
}

/** The loop's delay over a window, and the main thread's garbage-collection pauses in it (the longest, their sum). */
export interface LoopDelay { maxMs: number, p99Ms: number, meanMs: number, samples: number, gcMaxMs: number, gcTotalMs: number }

/**
 * The event-loop delay of a server's main thread over a window (bench/lib/loop-delay.mjs, 1 ms resolution): call at
 * its start, and the function returned at its end; undefined for a server without that preload.
 */
export async function loopDelayMeter (pid: number): Promise<() => Promise<LoopDelay | undefined>> {
  const started = await ask(pid, 'SIGURG', 'loop', 5000)
  return async () => started === undefined ? undefined : await ask(pid, 'SIGURG', 'loop', 5000) as LoopDelay
}

/** CPU time (user + system) a process (or, with `/proc/<pid>/task/<tid>`, a thread) has used so far, in seconds. */
export function cpuSeconds (pid: number, dir = `/proc/${pid}`): number {
  const stat = readFileSync(`${dir}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticksPerSecond = 100 // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** Parses a comma-separated pid list (several instances); empty when none was given. */
export const pids = (value: string | undefined): number[] =>
  value === undefined || value === '' ? [] : value.split(',').map(Number)

/**
 * CPU used by one process's main thread (tid = pid: the event loop) and by all its other threads together (worker
 * threads such as the embedded database's, V8's garbage-collection helpers, libuv's pool), in seconds between two
 * readings. A thread that ends between them is not counted.
 */
export function threadCpuMeter (pid: number) {
  const read = () => {
    const threads = new Map<number, number>()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try { threads.set(Number(tid), cpuSeconds(pid, `/proc/${pid}/task/${tid}`)) } catch {}
    }
    return threads
  }
  const before = read()
  return () => {
    let main = 0
    let others = 0
    for (const [tid, seconds] of read()) {
      const spent = seconds - (before.get(tid) ?? 0)
      if (tid === pid) main += spent
      else others += spent
    }
    return { main, others }
  }
}

/** CPU used by `pids` between two readings, as a percentage of one core. */
export function cpuMeter (list: number[]) {
  const read = () => list.reduce((sum, pid) => sum + cpuSeconds(pid), 0)
  const startCpu = read()
  const start = performance.now()
  return () => list.length === 0 ? null : Math.round(((read() - startCpu) / ((performance.now() - start) / 1000)) * 100)
}
