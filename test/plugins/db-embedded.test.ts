import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { openDatabase } from '../../src/db/client.js'
import { users } from '../../src/db/schema/index.js'
import { isUniqueViolation } from '../../src/lib/db-errors.js'
import { rootDir } from '../../src/paths.js'
import { entry } from '../helpers/entry.js'
import { freshDatabase } from '../helpers/server.js'

// The embedded database runs in a worker thread (src/db/embedded.ts); these are what that must keep or give.
const embedded = process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === ''
const skip = embedded ? false : 'the embedded database only (TEST_DATABASE_URL is set)'

/** A migrated embedded database of its own (a copy of the suite's template: no initdb), closed at the end. */
async function openFresh (t: { teardown: (fn: () => unknown) => void }) {
  const { DATA_DIR } = await freshDatabase(t)
  const database = await openDatabase({ dataDir: DATA_DIR! })
  t.teardown(() => database.close())
  return database
}

t.test('a long query does not hold up the event loop', { skip }, async (t) => {
  const database = await openFresh(t)
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  const started = performance.now()
  const [row] = await database.query<{ n: number }>('select count(*)::int as n from generate_series(1, $1::int)', [2_000_000])
  const tookMs = performance.now() - started
  delay.disable()
  t.equal(row!.n, 2_000_000)
  t.ok(tookMs > 200, `the query took long enough to tell (${Math.round(tookMs)} ms)`)
  // On the main thread the loop would have waited the whole query through; here only the machine's own delays.
  t.ok(delay.max / 1e6 < tookMs / 2, `longest loop delay ${Math.round(delay.max / 1e6)} ms during a ${Math.round(tookMs)} ms query`)
})

t.test('a transaction holds off other queries, rolls back when its work throws, and errors keep their SQLSTATE', { skip }, async (t) => {
  const database = await openFresh(t)
  await database.query('create table t (x int primary key)', [])
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const transaction = database.transaction(async (query) => {
    await query('insert into t values (1)', [])
    await held
    await query('insert into t values (2)', [])
  })
  // Sent while the transaction is open: it must see the transaction's rows all at once, after the commit.
  const counted = database.query<{ n: number }>('select count(*)::int as n from t', [])
  release()
  await transaction
  t.same(await counted, [{ n: 2 }], 'the outside query ran after the commit')

  await t.rejects(database.transaction(async (query) => {
    await query('insert into t values (3)', [])
    throw new Error('abandoned')
  }), /abandoned/, 'the work\'s own error')
  t.same(await database.query('select x from t order by x', []), [{ x: 1 }, { x: 2 }], 'rolled back')

  const duplicate = await database.query('insert into t values (1)', []).catch((error: unknown) => error)
  t.ok(isUniqueViolation(duplicate), 'a unique violation is recognized as one')
  t.equal((duplicate as { constraint?: string }).constraint, 't_pkey')
  // Through drizzle, whose query options (parser functions) PGlite attaches to the error: they stay in the worker.
  const user = { username: 'twice', passwordHash: 'x', firstName: '', lastName: '' }
  await database.orm.insert(users).values(user)
  t.ok(isUniqueViolation(await database.orm.insert(users).values(user).catch((error: unknown) => error)), 'through drizzle too')
  t.same(await database.query('select 1 as still', []), [{ still: 1 }], 'and the database still answers')
})

t.test('a process that opens, queries and closes the embedded database ends by itself', { skip }, async (t) => {
  const { DATA_DIR } = await freshDatabase(t)
  const dir = mkdtempSync(join(tmpdir(), 'chat-embedded-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The client module as this test runs it: compiled, or the sources under tsx (entry() gives the node flags).
  const [client] = entry('src/db/client').slice(-1)
  const script = `
    const { openDatabase } = await import(${JSON.stringify(pathToFileURL(client!).href)})
    const database = await openDatabase({ dataDir: ${JSON.stringify(DATA_DIR)} })
    await database.migrate()
    console.log(JSON.stringify(await database.query('select 41 + 1 as answer', [])))
    await database.close()`
  const file = join(dir, 'open-query-close.mjs')
  writeFileSync(file, script)
  const child = spawn(process.execPath, [...entry('src/db/client').slice(0, -1), file], { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  // No process.exit in the script: it ends when nothing is left, the worker included.
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const [code, signal] = await once(child, 'exit') as [number | null, string | null]
  clearTimeout(timer)
  t.equal(signal, null, 'not killed after 90 s')
  t.equal(code, 0, output)
  t.match(output, /\[\{"answer":42\}\]/)
})
