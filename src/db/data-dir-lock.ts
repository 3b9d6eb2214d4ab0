import { mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, closeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'

/** Lock files this process holds: a second database on the same directory in one process is refused too. */
const heldHere = new Set<string>()

/**
 * Locks the embedded database's directory; returns the function that unlocks it. PGlite does not lock its data
 * directory, and two processes on one directory silently lose writes. A lock file holding the owner's host and pid
 * refuses a second process; a lock left by a dead process is taken over.
 */
export function lockDataDir (dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, 'chat-backend.lock')
  const mine = `${hostname()} ${process.pid}`
  if (heldHere.has(path)) throw inUse(dataDir, process.pid, hostname())
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeFileSync(fd, mine)
      closeSync(fd)
      heldHere.add(path)
      return () => {
        heldHere.delete(path)
        try { if (readFileSync(path, 'utf8') === mine) unlinkSync(path) } catch {}
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = readOwner(path)
      if (owner !== undefined && isAlive(owner)) {
        throw inUse(dataDir, owner.pid, owner.host)
      }
      try { unlinkSync(path) } catch {}
    }
  }
  throw new Error(`Could not lock the data directory ${dataDir}`)
}

const inUse = (dataDir: string, pid: number, host: string) => new Error(
  `The data directory ${dataDir} is in use by process ${pid} on ${host}. ` +
  'The embedded database serves one process only: stop the other one, set DATA_DIR to another directory, ' +
  'or set DATABASE_URL to run several instances on PostgreSQL.'
)

function readOwner (path: string): { host: string, pid: number } | undefined {
  try {
    const [host = '', pid = ''] = readFileSync(path, 'utf8').split(' ')
    return { host, pid: Number(pid) }
  } catch {
    return undefined
  }
}

function isAlive ({ host, pid }: { host: string, pid: number }): boolean {
  // Another host's lock cannot be checked: trust it. Our own pid (not in heldHere) is a leftover: a container
  // restarts as pid 1.
  if (host !== hostname()) return true
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
