import type { PGlite, QueryOptions, Results } from '@electric-sql/pglite'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/pglite'
import { migrate } from 'drizzle-orm/pglite/migrator'
import { migrationsDir } from '../paths.js'
import type { Database, Db, Query } from './database.js'
import { lockDataDir } from './data-dir-lock.js'
import type { Reply, Request, WireOptions } from './embedded-protocol.js'
import type * as schema from './schema/index.js'
import { atMostEverySecond, sendTablesAnalyzed } from './send-tables.js'

/** Past this, a worker that has not ended after `close` is stopped. */
const CLOSE_TIMEOUT_MS = 10_000
/** The worker's module beside this one: built JavaScript, or the TypeScript sources under tsx (which it inherits). */
const workerUrl = new URL(`./embedded-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

type Call = Request extends infer R ? R extends Request ? Omit<R, 'id'> : never : never

/**
 * The embedded database (PGlite) in a worker thread of its own, so that its queries run beside the event loop
 * instead of on it. Drizzle and the migrations use PGlite's driver as before, through `RemotePglite`, which sends
 * each query to the worker; the data directory is locked here, in the process that serves it.
 */
export async function openEmbedded (dataDir: string, options: { schema: typeof schema, casing: 'snake_case' }): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://')
  const unlock = inMemory ? () => {} : lockDataDir(dataDir)
  let client: RemotePglite
  try {
    client = await RemotePglite.start(inMemory ? undefined : dataDir)
  } catch (error) {
    unlock()
    throw error
  }
  const db = drizzle(client as unknown as PGlite, options)
  const rowsOf = (query: (text: string, params: unknown[]) => Promise<Results<unknown>>): Query =>
    async <T>(text: string, params: unknown[]) => (await query(text, params)).rows as T[]
  const query = rowsOf((text, params) => client.query(text, params))
  const transaction = async <T>(work: (query: Query) => Promise<T>) =>
    await client.transaction((tx) => work(rowsOf((text, params) => tx.query(text, params))))
  return {
    orm: db as unknown as Db,
    kind: 'embedded',
    async migrate () { await migrate(db, { migrationsFolder: migrationsDir }) },
    query,
    transaction,
    // One connection does everything, one query at a time.
    writer: { query: writerQuery(client, query), transaction },
    async ping () { await db.execute(sql`select 1`) },
    async close () {
      try { await client.close() } finally { unlock() }
    }
  }
}

/** Messages (by id) before the first ANALYZE, as autovacuum's threshold. */
const ANALYZE_FIRST = 50

/**
 * The group commit's statements, embedded: planned at each run until the tables the send statement reads have
 * statistics, then with their plans kept (the worker's `kept`), as on PostgreSQL (src/db/client.ts). PGlite has no
 * autovacuum, so those tables are analyzed from here: once the messages have 50 ids, and again each time the ids
 * have doubled since. ANALYZE holds the worker while it samples (at most 30,000 rows a table): 0.49-0.65 s with a
 * million messages here; with doubling, 14 times on the way to a million.
 */
function writerQuery (client: RemotePglite, query: Query): Query {
  let keep = false
  let analyzedIds: number | undefined
  const look = atMostEverySecond(async () => {
    const [row] = await query<{ ids: number, analyzed: number }>(`select
      (select case when is_called then last_value else 0 end from messages_id_seq)::float8 as ids,
      greatest((select reltuples from pg_class where oid = 'messages'::regclass), 0)::float8 as analyzed`, [])
    analyzedIds ??= row!.analyzed
    if (row!.ids >= 2 * analyzedIds + ANALYZE_FIRST) {
      await query('analyze messages, rooms, room_members, users', [])
      analyzedIds = row!.ids
    }
    keep ||= await sendTablesAnalyzed(query)
  })
  return async <T>(text: string, params: unknown[]) => {
    look()
    return keep ? (await client.kept<T>(text, params)).rows : await query<T>(text, params)
  }
}

function startWorker (workerData: { dataDir: string | undefined }): Worker {
  if (!workerUrl.pathname.endsWith('.ts')) return new Worker(workerUrl, { workerData })
  // Under tsx: Node 20 does not apply the parent's loader to a worker's entry module, so the worker registers it first.
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData })
}

/** The part of PGlite's interface drizzle uses (`query`, `transaction`), answered by the worker. */
class RemotePglite {
  private readonly pending = new Map<number, { resolve: (result: any) => void, reject: (error: Error) => void }>()
  private nextId = 1
  private ended: Error | undefined

  private constructor (private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const call = this.pending.get(reply.id)
      if (call === undefined) return
      this.pending.delete(reply.id)
      if (this.pending.size === 0) worker.unref()
      if (reply.error === undefined) call.resolve(reply.result)
      else call.reject(Object.assign(new Error(reply.error.message), reply.error))
    })
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`the embedded database's worker ended (exit code ${code})`)))
  }

  /** Starts the worker and waits until it has opened the database (or failed to: its error is thrown here). */
  static async start (dataDir: string | undefined): Promise<RemotePglite> {
    const remote = new RemotePglite(startWorker({ dataDir }))
    await remote.call(0)
    return remote
  }

  /** Every call still waiting fails, and every later one: the worker is gone. */
  private fail (error: Error): void {
    this.ended ??= error
    for (const call of this.pending.values()) call.reject(error)
    this.pending.clear()
  }

  /**
   * Sends a request and waits for its answer (`id` 0: the worker's first message). The worker keeps the process
   * alive only while an answer is awaited, as PGlite on the main thread did (a query in flight, nothing else).
   */
  private call (request: Call | 0): Promise<any> {
    if (this.ended !== undefined) return Promise.reject(this.ended)
    const id = request === 0 ? 0 : this.nextId++
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }))
    if (this.pending.size === 1) this.worker.ref()
    if (request !== 0) this.worker.postMessage({ ...request, id })
    return answer
  }

  query<T> (text: string, params?: unknown[], options?: QueryOptions, tx?: number): Promise<Results<T>> {
    return this.call({ op: 'query', text, params, options: wireOptions(options), tx })
  }

  /** A statement with its plan kept (see `runKept` in src/db/embedded-worker.ts). */
  kept<T> (text: string, params: unknown[]): Promise<Results<T>> {
    return this.call({ op: 'kept', text, params })
  }

  /** `work` runs in one transaction, held open in the worker; it commits when `work` resolves, and rolls back if it throws. */
  async transaction<T> (work: (tx: { query: RemotePglite['query'] }) => Promise<T>): Promise<T> {
    const tx: number = await this.call({ op: 'begin' })
    let result: T
    try {
      result = await work({ query: (text, params, options) => this.query(text, params, options, tx) })
    } catch (error) {
      await this.call({ op: 'end', tx, commit: false }).catch(() => {})
      throw error
    }
    await this.call({ op: 'end', tx, commit: true })
    return result
  }

  /** Closes the database in the worker, then waits (bounded) for the thread to end. */
  async close (): Promise<void> {
    if (this.ended !== undefined) return
    const exited = once(this.worker, 'exit')
    await this.call({ op: 'close' })
    const timer = setTimeout(() => { void this.worker.terminate() }, CLOSE_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
}

const wired = new WeakMap<QueryOptions, WireOptions>()

/**
 * Query options as data (functions do not cross threads): drizzle's parsers keep some types' values as PostgreSQL's
 * text (timestamps, dates, intervals); their oids go to the worker, which parses them the same way. Any other
 * parser would be lost on the way, so it is refused.
 */
function wireOptions (options: QueryOptions | undefined): WireOptions | undefined {
  if (options === undefined) return undefined
  let wire = wired.get(options)
  if (wire === undefined) {
    const parsers = Object.entries(options.parsers ?? {})
    for (const [oid, parse] of parsers) {
      if (parse('2026-01-01 00:00:00+00', Number(oid)) !== '2026-01-01 00:00:00+00') {
        throw new Error(`type ${oid}: only parsers that keep the text can be sent to the embedded database's worker`)
      }
    }
    wire = { rowMode: options.rowMode, asText: parsers.map(([oid]) => Number(oid)) }
    wired.set(options, wire)
  }
  return wire
}
