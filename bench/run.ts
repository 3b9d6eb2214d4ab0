/**
 * `npm run bench`: starts the servers as child processes (the bare `ws` baseline and the Socket.IO peer; ours on a fresh PostgreSQL
 * database, on the embedded database in a temp dir, and as two instances sharing Redis), runs the standard
 * scenarios (docs/benchmarks.md lists them) against each with bench/load.ts, and prints one table: our figures beside the peers',
 * measured back to back in the same run, and whether each target is met.
 *
 *   npm run bench                 # full sizes, about 5 minutes here
 *   npm run bench -- --quick      # small sizes, about 2 minutes here (a smoke test of the suite)
 *   npm run bench -- --only 1,5   # some scenarios only, by number; --tsx runs the sources instead of the build
 *   npm run bench -- --only 13,14 --against ../other-checkout   # sends on this build against another's
 *   npm run bench -- --ours ../other-checkout   # every scenario on another checkout's server (this bench, the same peers)
 *
 * Flags (or BENCH_<NAME> variables): --duration s, --warmup s, --idle-sockets n, --history-messages n, --behind n,
 * --big-room n, --users n, --repeat n, --reactors n, --rounds n, --changes n, --ab-rounds n, --against dir, --ours dir,
 * --pg-url, --redis-url, --out file.json, --bare-uncorked (the baseline writing each frame on its own, as before).
 * See docs/benchmarks.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { flag, num, parseArgs, str } from './lib/args.js'
import { runLoad, stopLoads } from './lib/runner.js'
import { build, createDatabase, startBaseline, startOurs, startSocketIo, type Server } from './lib/servers.js'
import { scenarios, type Sizes } from './scenarios.js'

const args = parseArgs(process.argv.slice(2))
const quick = flag(args, 'quick')
const sizes: Sizes = {
  durationS: num(args, 'duration', quick ? 3 : 10),
  warmupS: num(args, 'warmup', quick ? 1 : 2),
  idleSockets: num(args, 'idle-sockets', quick ? 1000 : 10_000),
  historyMessages: num(args, 'history-messages', quick ? 100_000 : 1_000_000),
  historyPages: num(args, 'history-pages', quick ? 100 : 1000),
  behind: num(args, 'behind', 10_000),
  bigRoom: num(args, 'big-room', quick ? 500 : 1000),
  users: num(args, 'users', quick ? 30 : 100),
  repeat: num(args, 'repeat', 1),
  reactors: num(args, 'reactors', quick ? 30 : 100),
  rounds: num(args, 'rounds', 10),
  changes: num(args, 'changes', quick ? 10_000 : 100_000),
  abRounds: num(args, 'ab-rounds', quick ? 1 : 3),
  homeRooms: num(args, 'home-rooms', quick ? 20 : 100),
  homeMessages: num(args, 'home-messages', quick ? 1000 : 10_000),
  searchMessages: num(args, 'search-messages', quick ? 100_000 : 1_000_000)
}
const only = str(args, 'only')?.split(',').map(Number)
const wanted = (scenario: number) => only === undefined || only.includes(scenario)
const pgUrl = str(args, 'pg-url', 'postgres://postgres@127.0.0.1:5432/postgres')
const redisUrl = str(args, 'redis-url', 'redis://127.0.0.1:6379')
const tsx = flag(args, 'tsx')
const checkoutArg = (name: string) => str(args, name) === undefined ? undefined : resolve(str(args, name)!)
const against = checkoutArg('against')
/** Our server from another checkout's build in every scenario: a whole run of an older build beside the same peers. */
const ours = checkoutArg('ours')

const began = Date.now()
const loadAtStart = loadavg()[0]!.toFixed(1)
const log = (line: string) => console.error(`[${Math.round((Date.now() - began) / 1000)}s] ${line}`)

/** Everything started is stopped, and the database dropped, also on Ctrl-C. */
const cleanups: Array<() => Promise<void> | void> = []
let cleaning: Promise<void> | undefined
/** Runs once; a second caller (the interrupted run failing) waits for the same cleanup. */
function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    stopLoads()
    for (const cleanup of cleanups.reverse()) {
      try { await cleanup() } catch (error) { log(`cleanup: ${(error as Error).message}`) }
    }
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanUp().finally(() => process.exit(130)) })
}
async function started (server: Promise<Server>): Promise<Server> {
  const s = await server
  cleanups.push(() => s.stop())
  log(`${s.name}: pid ${s.pid}, ${s.url}, output in ${s.logFile}`)
  return s
}

/** One load run, logged; `repeat` runs keep the median by `metric`. */
async function measure (label: string, loadArgs: string[], metric: (run: any) => number, timeoutS = 300) {
  const runs: any[] = []
  for (let i = 0; i < sizes.repeat; i++) runs.push(await runLoad(loadArgs, timeoutS))
  runs.sort((a, b) => metric(a) - metric(b))
  const run = runs[Math.floor(runs.length / 2)]
  log(`${label}: ${JSON.stringify(run)}`)
  return run
}

async function main () {
  if (!tsx) build(log, ours)
  if (!tsx && against !== undefined) build(log, against)
  const database = await createDatabase(pgUrl)
  cleanups.push(() => database.drop())
  log(`database ${new URL(database.url).pathname.slice(1)}`)
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-bench-'))
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))

  const context = {
    sizes,
    wanted,
    measure,
    log,
    startBare: () => started(startBaseline(!flag(args, 'bare-uncorked'))),
    startSocketIo: () => started(startSocketIo()),
    startPg: (name = 'ours (PostgreSQL)') => started(startOurs({ name, databaseUrl: database.url, tsx, checkout: ours })),
    startEmbedded: () => started(startOurs({ name: 'ours (embedded)', dataDir, tsx, checkout: ours })),
    startRedisPair: () => Promise.all([1, 2].map((i) => started(startOurs({
      name: `ours #${i} (Redis)`, databaseUrl: database.url, redisUrl, redisPrefix: `bench${process.pid}:`, tsx, checkout: ours
    })))),
    stop: (server: Server) => server.stop(),
    databaseUrl: database.url,
    against,
    startFresh: async (which: 'this' | 'against', embedded: boolean) => {
      const name = `${which === 'this' ? 'this build' : 'the other build'}${embedded ? ' (embedded)' : ' (PostgreSQL)'}`
      const checkout = which === 'this' ? ours : against
      if (embedded) {
        const dir = mkdtempSync(join(tmpdir(), 'chat-bench-'))
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
        return await started(startOurs({ name, dataDir: dir, tsx, checkout }))
      }
      const fresh = await createDatabase(pgUrl)
      cleanups.push(() => fresh.drop())
      return await started(startOurs({ name, databaseUrl: fresh.url, tsx, checkout }))
    }
  }
  const rows = await scenarios(context)
  await cleanUp()

  const { markdown } = await import('./lib/table.js')
  console.log(`\n${markdown(rows)}\n`)
  console.log(`${quick ? 'quick' : 'full'} run, ${new Date().toISOString()}, ${Math.round((Date.now() - began) / 1000)} s; ` +
    `ratios = ours ÷ bare ws and ours ÷ Socket.IO; ${tsx ? 'sources via tsx' : 'built server'}` +
    `${ours === undefined ? '' : ` of ${ours}`}; ${cpus().length} cores, ` +
    `load average ${loadAtStart} at the start, ${loadavg()[0]!.toFixed(1)} at the end; ` +
    `sizes ${JSON.stringify(sizes)}`)
  const out = str(args, 'out')
  if (out !== undefined) writeFileSync(out, JSON.stringify({ sizes, rows }, null, 2))
}

main().then(() => process.exit(0), async (error: unknown) => {
  log(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  await cleanUp()
  process.exit(1)
})
