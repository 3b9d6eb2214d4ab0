/**
 * The embedded database's thread: it owns the PGlite instance (PostgreSQL compiled to WebAssembly) and answers the
 * queries the server's main thread sends it over the worker's port (src/db/embedded.ts speaks the other side). A
 * query runs for as long as PostgreSQL takes, so on the main thread it stalled every socket; here it stalls none.
 * PGlite serializes the queries itself, and a query outside an open transaction waits for that transaction to end.
 */
import { PGlite, type QueryOptions, type Transaction } from '@electric-sql/pglite'
import { parentPort, workerData } from 'node:worker_threads'
import type { Reply, Request, WireOptions } from './embedded-protocol.js'

const port = parentPort!
const { dataDir } = workerData as { dataDir: string | undefined }
// Top-level: a data directory that cannot be opened fails the worker, and its 'error' event fails the opening.
const db = await PGlite.create(dataDir)

interface Open { tx: Transaction, end: (commit: boolean) => void, done: Promise<void> }
const open = new Map<number, Open>()
let nextTx = 1
/** Thrown into PGlite's transaction to have it roll back; not an error of the caller's. */
const ROLLBACK = Symbol('rollback')

/** Opens a transaction that stays open until its `end` request: PGlite's own, so that other queries wait for it. */
function begin (): Promise<number> {
  const id = nextTx++
  return new Promise((resolve, reject) => {
    let end!: (commit: boolean) => void
    const decided = new Promise<boolean>((resolve) => { end = resolve })
    const done: Promise<void> = db.transaction(async (tx) => {
      open.set(id, { tx, end, done })
      resolve(id)
      if (!await decided) throw ROLLBACK
    }).catch((error: unknown) => { if (error !== ROLLBACK) throw error })
    // A BEGIN that failed fails the request; a COMMIT that failed fails the `end` request (below).
    done.catch(reject)
  })
}

/** Drizzle's parsers, rebuilt here: functions do not cross threads, the type oids they keep as text do. */
const asText = (value: string) => value
const parsed = new Map<string, QueryOptions>()
function queryOptions (wire: WireOptions | undefined): QueryOptions | undefined {
  if (wire === undefined) return undefined
  const key = `${wire.rowMode ?? ''}:${wire.asText.join(',')}`
  let options = parsed.get(key)
  if (options === undefined) {
    options = { parsers: Object.fromEntries(wire.asText.map((oid) => [oid, asText])) }
    if (wire.rowMode !== undefined) options.rowMode = wire.rowMode
    parsed.set(key, options)
  }
  return options
}

/** The statements prepared for `kept`, by text. */
const prepared = new Map<string, string>()

/** A parameter as an SQL literal (standard_conforming_strings is on: only quotes are doubled). */
function literal (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`
  throw new Error(`a kept statement takes strings, finite numbers and null, not ${typeof value}`)
}

/**
 * PGlite's `query` plans a statement at each run (it prepares none): for the group commit's batch statement that
 * cost more than running it. Here the statement is prepared once, and each run is one simple query, so one
 * transaction, whose settings make its plan generic (made once, kept until ANALYZE or a migration invalidates it)
 * and through indexes, as on PostgreSQL (see `sendsConnection` in src/db/client.ts).
 */
async function runKept (text: string, params: unknown[]): Promise<unknown> {
  let name = prepared.get(text)
  if (name === undefined) {
    name = `kept_${prepared.size + 1}`
    await db.exec(`prepare ${name} as ${text}`)
    prepared.set(text, name)
  }
  const results = await db.exec('set local plan_cache_mode = force_generic_plan; set local enable_seqscan = off; ' +
    `execute ${name}(${params.map(literal).join(', ')})`)
  const { rows, affectedRows, fields } = results[results.length - 1]!
  return { rows, affectedRows, fields }
}

async function run (request: Request): Promise<unknown> {
  switch (request.op) {
    case 'query': {
      const on = request.tx === undefined ? db : open.get(request.tx)?.tx
      if (on === undefined) throw new Error(`transaction ${request.tx} is not open`)
      const { rows, affectedRows, fields } = await on.query(request.text, request.params, queryOptions(request.options))
      return { rows, affectedRows, fields }
    }
    case 'kept':
      return await runKept(request.text, request.params)
    case 'begin':
      return await begin()
    case 'end': {
      const transaction = open.get(request.tx)
      if (transaction === undefined) throw new Error(`transaction ${request.tx} is not open`)
      open.delete(request.tx)
      transaction.end(request.commit)
      await transaction.done
      return null
    }
    case 'close':
      await db.close()
      return null
  }
}

/**
 * An error as data: its message and its own plain fields (a PostgreSQL error's `code`, `constraint`, `detail`…).
 * Only strings, numbers and booleans: PGlite attaches the query's options to its errors, drizzle's parser
 * functions among them, which cannot be cloned to another thread.
 */
function asData (error: unknown): Extract<Reply, { error: object }>['error'] {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) }
  const data: Extract<Reply, { error: object }>['error'] = { name: error.name, message: error.message }
  for (const [field, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') data[field] = value
  }
  return data
}

/** Posts a reply; one that cannot be cloned fails its request, never the thread. */
function reply (message: Reply): void {
  try {
    port.postMessage(message)
  } catch (error) {
    port.postMessage({ id: message.id, error: asData(error) } satisfies Reply)
  }
}

port.on('message', (request: Request) => {
  run(request).then(
    (result) => {
      reply({ id: request.id, result })
      // Closed: nothing is left to answer, and the thread ends.
      if (request.op === 'close') port.close()
    },
    (error: unknown) => reply({ id: request.id, error: asData(error) })
  )
})
reply({ id: 0, result: 'ready' })
