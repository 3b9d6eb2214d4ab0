import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { root } from './servers.js'

const running = new Set<ChildProcess>()

/** Stops the load generators still running (the suite is being interrupted). */
export function stopLoads (): void {
  for (const child of running) child.kill('SIGKILL')
}

/**
 * Runs bench/load.ts in its own process (its own core time, heap and open-files limit, raised to the hard limit)
 * and returns the JSON it prints; fails if it does not finish within `timeoutS`.
 */
export function runLoad (args: string[], timeoutS: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath,
      '--import', 'tsx', join(root, 'bench/load.ts'), ...args, '--json', '--timeout', String(timeoutS)],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
    const timer = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 15) * 1000)
    child.on('exit', (code) => {
      running.delete(child)
      clearTimeout(timer)
      const last = stdout.trim().split('\n').at(-1) ?? ''
      if (code === 0) {
        try { return resolve(JSON.parse(last)) } catch {}
      }
      reject(new Error(`load ${args.join(' ')} failed (exit ${code}):\n${stderr}`))
    })
  })
}
