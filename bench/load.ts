/**
 * The load generator: speaks the API (docs/api.md: REST setup, then WebSocket frames) to a running server, and prints
 * what it measured as JSON (one line with --json). Only 127.0.0.1 is targeted; every loop is bounded.
 *
 *   node --import tsx bench/load.ts --url http://127.0.0.1:8000 --mode throughput --members 10 --senders 10 --window 16
 *   ... --mode latency --members 100 --senders 10 --rate 500
 *   ... --mode idle --sockets 10000 --server-pid <pid>
 *   ... --mode history --messages 1000000 --database-url postgres://postgres@127.0.0.1:5432/<db>
 *   ... --mode resume --behind 10000 --database-url ...      (--by rev: last_rev, over edits and reactions too)
 *   ... --mode reactions --members 100 --rounds 10
 *   ... --mode changes --changes 100000 --database-url ...
 *   ... --mode rooms --rooms 100 --messages 10000 --database-url ...   (the room list, full rooms vs empty ones)
 *   ... --mode search --messages 1000000 --database-url ...            (search vs history pages)
 *   ... --mode latency ... --read-frames                               (every member reads every message)
 *   ... --mode probe --url http://127.0.0.1:8001,http://127.0.0.1:8002
 *   ... --database-cpu <url>  (throughput, latency: CPU of the PostgreSQL backends serving that database)
 *   ... --protocol socketio   (throughput, latency and idle against the Socket.IO peer, bench/socketio-server.ts)
 *
 * See docs/benchmarks.md for what each mode measures.
 */
import { parseArgs, flag, num, str } from './lib/args.js'
import { pids } from './lib/proc.js'
import { runChanges } from './modes/changes.js'
import { runHistory } from './modes/history.js'
import { runRoomList, runSearch } from './modes/home.js'
import { runIdle } from './modes/idle.js'
import { runProbe } from './modes/probe.js'
import { runReactions } from './modes/reactions.js'
import { runResume } from './modes/resume.js'
import { runTraffic } from './modes/traffic.js'
import type { Protocol } from './lib/swarm.js'

const args = parseArgs(process.argv.slice(2))
const urls = str(args, 'url', 'http://127.0.0.1:8000').split(',')
for (const url of urls) {
  if (new URL(url).hostname !== '127.0.0.1') throw new Error(`only 127.0.0.1 is a benchmark target, not ${url}`)
}
const serverPids = pids(str(args, 'server-pid'))
const users = num(args, 'users', 100)
const mode = str(args, 'mode', 'throughput')
const protocol = str(args, 'protocol', 'api') as Protocol
if (protocol !== 'api' && protocol !== 'socketio') throw new Error(`--protocol must be api or socketio, not ${String(protocol)}`)

const databaseUrl = () => {
  const value = str(args, 'database-url')
  if (value === undefined) throw new Error(`${mode} mode fills a room through SQL: pass --database-url`)
  if (new URL(value).hostname !== '127.0.0.1') throw new Error('only a local database is filled')
  return value
}

async function main () {
  switch (mode) {
    case 'throughput':
    case 'latency':
      return await runTraffic({
        urls,
        rooms: num(args, 'rooms', 1),
        members: num(args, 'members', 10),
        users,
        protocol,
        senders: num(args, 'senders', 10),
        window: mode === 'throughput' ? num(args, 'window', 16) : undefined,
        rate: mode === 'latency' ? num(args, 'rate', 100) : undefined,
        durationS: num(args, 'duration', 10),
        warmupS: num(args, 'warmup', 1),
        size: num(args, 'size', 20),
        readFrames: flag(args, 'read-frames'),
        serverPids,
        databaseCpu: str(args, 'database-cpu')
      })
    case 'idle':
      return await runIdle({ urls, sockets: num(args, 'sockets', 10_000), users, protocol, serverPids, settleS: num(args, 'settle', 3) })
    case 'history':
      return await runHistory({
        url: urls[0]!,
        databaseUrl: databaseUrl(),
        messages: num(args, 'messages', 1_000_000),
        pages: num(args, 'pages', 200),
        secretKey: str(args, 'secret-key')
      })
    case 'resume': {
      const by = str(args, 'by', 'seq')
      if (by !== 'seq' && by !== 'rev') throw new Error(`--by must be seq or rev, not ${by}`)
      return await runResume({ url: urls[0]!, databaseUrl: databaseUrl(), behind: num(args, 'behind', 10_000), repeats: num(args, 'repeats', 5), by })
    }
    case 'reactions':
      return await runReactions({ url: urls[0]!, members: num(args, 'members', 100), rounds: num(args, 'rounds', 10), serverPids })
    case 'changes':
      return await runChanges({ url: urls[0]!, databaseUrl: databaseUrl(), changes: num(args, 'changes', 100_000) })
    case 'rooms':
      return await runRoomList({
        url: urls[0]!, databaseUrl: databaseUrl(), rooms: num(args, 'rooms', 100), messages: num(args, 'messages', 10_000), requests: num(args, 'requests', 300)
      })
    case 'search':
      return await runSearch({
        url: urls[0]!, databaseUrl: databaseUrl(), messages: num(args, 'messages', 1_000_000), small: num(args, 'small', 1000), requests: num(args, 'requests', 300)
      })
    case 'probe':
      return await runProbe(urls)
    default:
      throw new Error(`unknown mode ${mode}`)
  }
}

// A hard stop: a wedged run must not hang the suite.
const deadline = setTimeout(() => {
  console.error(`load: gave up after ${num(args, 'timeout', 600)} s`)
  process.exit(2)
}, num(args, 'timeout', 600) * 1000)

main().then((result) => {
  clearTimeout(deadline)
  console.log(flag(args, 'json') ? JSON.stringify(result) : JSON.stringify(result, null, 2))
  // Keep-alive HTTP agents and closing sockets would keep the process up a moment longer.
  process.exit(0)
}, (error: unknown) => {
  console.error(`load: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
