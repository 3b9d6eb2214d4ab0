/**
 * `npm run bench:profile`: runs our server (the build, on a fresh PostgreSQL database) under `node --cpu-prof`
 * through the throughput scenario (the 10-member room by default; `--members 1000` for the big room), stops it so that V8 writes the
 * profile, and prints the functions with the most self time and the share of each package. The .cpuprofile is
 * kept under .cache/bench-profile: open it in Chrome DevTools (Performance) or speedscope for a flame graph.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
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
  const database = await createDatabase(str(args, 'pg-url', 'postgres://postgres@127.0.0.1:5432/postgres'))
  const startedAt = Date.now()
  try {
    const server = await startOurs({
      name: 'ours (profiled)', databaseUrl: database.url, tsx, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir]
    })
    try {
      const run = await runLoad(['--url', server.url, '--server-pid', String(server.pid), '--mode', 'throughput',
        '--members', String(num(args, 'members', 10)), '--senders', '10', '--window', '16',
        '--duration', String(num(args, 'duration', 15)), '--warmup', '2'], 300)
      log(`load: ${JSON.stringify(run)}`)
    } finally {
      await server.stop()
    }
  } finally {
    await database.drop()
  }
  const profile = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(dir, name)).filter((path) => statSync(path).mtimeMs >= startedAt)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
  if (profile === undefined) throw new Error('the server wrote no profile')
  const { busyMs, top } = selfTimes(profile, root)
  console.log(`profile ${profile}: ${busyMs} ms busy (idle excluded)\n`)
  console.log('| self % | self ms | function | where |\n| --- | --- | --- | --- |')
  for (const t of top.slice(0, num(args, 'top', 25))) {
    console.log(`| ${(t.share * 100).toFixed(1)} | ${t.ms} | ${t.name} | ${t.where} |`)
  }
  console.log('\n| package | self % |\n| --- | --- |')
  for (const g of byPackage(top).slice(0, 15)) console.log(`| ${g.group} | ${(g.share * 100).toFixed(1)} |`)
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(`profile failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
