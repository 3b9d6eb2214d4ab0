/**
 * `npm run bench:profile`: runs our server (the build, on a fresh PostgreSQL database, or with `--embedded` on the
 * embedded one in a temporary directory) under `node --cpu-prof`
 * through the throughput scenario (the 10-member room by default; `--members 1000` for the big room), stops it so that V8 writes the
 * profile, and prints the functions with the most self time and the share of each package, for each thread (the
 * main thread, and embedded the database's worker: V8 writes one profile per thread). The .cpuprofiles are
 * kept under .cache/bench-profile: open them in Chrome DevTools (Performance) or speedscope for a flame graph.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { flag, num, parseArgs, str } from './lib/args.js'
import { byPackage, selfTimes } from './lib/cpuprofile.js'
import { runLoad } from './lib/runner.js'
import { build, createDatabase, root, startOurs } from './lib/servers.js'

const args = parseArgs(process.argv.slice(2))
const dir = join(root, '.cache', 'bench-profile')
const tsx = flag(args, 'tsx')
const log = (line: string) => console.error(line)

async function main () {
  if (!tsx) build(log)
  mkdirSync(dir, { recursive: true })
  const embedded = flag(args, 'embedded')
  const database = embedded
    ? { url: undefined, dataDir: mkdtempSync(join(tmpdir(), 'chat-profile-')), drop: async () => {} }
    : { ...await createDatabase(str(args, 'pg-url', 'postgres://postgres@127.0.0.1:5432/postgres')), dataDir: undefined }
  const startedAt = Date.now()
  try {
    const server = await startOurs({
      name: 'ours (profiled)', databaseUrl: database.url, dataDir: database.dataDir, tsx, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir]
    })
    try {
      const run = await runLoad(['--url', server.url, '--server-pid', String(server.pid), '--mode', 'throughput',
        '--members', String(num(args, 'members', 10)), '--senders', '10', '--window', String(num(args, 'window', 16)),
        '--duration', String(num(args, 'duration', 15)), '--warmup', '2'], 300)
      log(`load: ${JSON.stringify(run)}`)
    } finally {
      await server.stop()
    }
  } finally {
    await database.drop()
    if (database.dataDir !== undefined) rmSync(database.dataDir, { recursive: true, force: true })
  }
  // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main thread.
  const profiles = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name)).filter((path) => statSync(path).mtimeMs >= startedAt).sort()
  if (profiles.length === 0) throw new Error('the server wrote no profile')
  for (const profile of profiles) {
    const { busyMs, top } = selfTimes(profile, root)
    const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(profile)?.[1] === '0' ? 'main thread' : 'worker thread'
    console.log(`\n${thread}, profile ${profile}: ${busyMs} ms busy (idle excluded)\n`)
    console.log('| self % | self ms | function | where |\n| --- | --- | --- | --- |')
    for (const t of top.slice(0, num(args, 'top', 25))) {
      console.log(`| ${(t.share * 100).toFixed(1)} | ${t.ms} | ${t.name} | ${t.where} |`)
    }
    console.log('\n| package | self % |\n| --- | --- |')
    for (const g of byPackage(top).slice(0, 15)) console.log(`| ${g.group} | ${(g.share * 100).toFixed(1)} |`)
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(`profile failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
