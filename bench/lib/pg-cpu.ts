import postgres from 'postgres'
import { cpuSeconds } from './proc.js'

/**
 * CPU of the PostgreSQL backends serving one database (the server's connections), read from /proc: the sum of
 * utime + stime of every client backend of that database between two readings, in seconds. A backend that appears
 * between them counts from zero (it started within the window); one that ends between them is not counted.
 * PostgreSQL's shared processes (WAL writer, checkpointer, autovacuum) serve every database of the cluster and are
 * not counted; neither is this meter's own connection. pg_stat_statements is not needed (nor loaded here).
 */
export async function databaseCpuMeter (databaseUrl: string) {
  if (new URL(databaseUrl).hostname !== '127.0.0.1') throw new Error('only a local database can be read from /proc')
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  const backends = async () => {
    const rows = await sql<Array<{ pid: number }>>`
      select pid from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`
    const cpu = new Map<number, number>()
    for (const { pid } of rows) {
      try { cpu.set(pid, cpuSeconds(pid)) } catch {}
    }
    return cpu
  }
  try {
    const before = await backends()
    return async () => {
      try {
        let seconds = 0
        for (const [pid, now] of await backends()) seconds += now - (before.get(pid) ?? 0)
        return seconds
      } finally {
        await sql.end({ timeout: 5 })
      }
    }
  } catch (error) {
    await sql.end({ timeout: 5 })
    throw error
  }
}

/** `ANALYZE` of every table of a database. */
export async function analyze (databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  try {
    await sql`analyze`
  } finally {
    await sql.end({ timeout: 5 })
  }
}
