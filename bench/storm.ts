/**
 * `npm run bench:storm`: reconnect storms (issue 15, item 3), in one run.
 * 1. Connect storm: N sockets of U users in one room opened at once (`--in-flight` 1,000 handshakes at a time), to the bare `ws`
 *    server, then to ours on PostgreSQL (this build, and `--against <checkout>`'s): sockets per second until every
 *    one has joined (answered a ping), and ours ÷ bare.
 * 2. Restart: two instances of ours (PostgreSQL + Redis), N sockets spread over both, a message every `--tick-ms`
 *    (1,000); one instance is stopped (1001 to its sockets) and started again on its port. Each closed socket
 *    reconnects with `last_seq`, to the same instance or, while it is down, to the other, and counts as resumed when
 *    it has the answer to a ping sent on open (the server answers once the socket has joined and has been sent what it
 *    missed). Reported: seconds from the stop to the last resumed socket, gaps and repeats (every socket must then
 *    have the next message).
 *
 *   npm run bench:storm -- --sockets 10000 --users 100 [--against ../main-checkout] [--only storm|restart]
 *     [--tick-ms 1000] [--cpu-prof dir]
 */
import WebSocket from 'ws'
import { num, parseArgs, str } from './lib/args.js'
import { build, createDatabase, startBaseline, startOurs, type Server } from './lib/servers.js'
import { closeSwarm, openSocket, openSwarm, PING, PONG, setUp, until, type BenchSocket } from './lib/swarm.js'
import { FrameKind, frame, scan } from './lib/frames.js'
import { cpuSeconds } from './lib/proc.js'

const args = parseArgs(process.argv.slice(2))
const sockets = num(args, 'sockets', 10_000)
const users = num(args, 'users', 100)
// Handshakes in flight at once: all of them overflow the listen backlog (ECONNRESET), for the bare server too at times.
const inFlight = num(args, 'in-flight', 1000)
const pgUrl = str(args, 'pg-url', 'postgres://postgres@127.0.0.1:5432/postgres')
const redisUrl = str(args, 'redis-url', 'redis://127.0.0.1:6379')
const against = str(args, 'against')
const only = str(args, 'only')
// `--cpu-prof <dir>`: the servers of the restart write V8 CPU profiles there when they stop (for where its time goes).
const cpuProf = str(args, 'cpu-prof')
// The restart's sender: a message every `--tick-ms` (each goes to every socket: 10,000 deliveries/s at 1,000 ms).
const tickMs = num(args, 'tick-ms', 1000)
const began = Date.now()
const log = (line: string) => console.error(`[${Math.round((Date.now() - began) / 1000)}s] ${line}`)
const cleanups: Array<() => Promise<void>> = []
const round2 = (x: number) => Math.round(x * 100) / 100

async function connectStorm (server: Server) {
  const topology = { urls: [server.url], rooms: 1, members: sockets, users }
  const setup = await setUp(topology, 'storm')
  const started = performance.now()
  const opened = await openSwarm(topology, setup, () => {}, undefined, undefined, inFlight, 60_000)
  const seconds = (performance.now() - started) / 1000
  closeSwarm(opened)
  const result = { server: server.name, sockets, users, seconds: round2(seconds), perSecond: Math.round(sockets / seconds) }
  log(JSON.stringify(result))
  return result
}

/** How the sockets of the restart were closed, by code, reconnects included; and how reconnects failed. */
const closeCodes = new Map<number, number>()
const refusals = new Map<string, number>()
const HANDSHAKE_TIMEOUT_MS = 10_000

/** A socket that, closed by the server, reconnects with last_seq until it is open again, and notes when it resumed. */
class Resuming {
  closedAt = 0
  resumedAt = 0
  /** Set at the end of the run: a socket closed then is not reconnected. */
  done = false
  ws: WebSocket
  constructor (readonly socket: BenchSocket, readonly urls: string[], readonly room: string, readonly token: string,
    /** The instance it is connected to (0: the one restarted). */
    public home: number) {
    this.ws = socket.ws
    this.watch(socket.ws)
  }

  private watch (ws: WebSocket) {
    ws.on('close', (code) => {
      closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1)
      // As a client does: only a refusal of the token, the membership or the room is final.
      if (this.done || code === 4401 || code === 4403 || code === 4404) return
      if (this.closedAt === 0) this.closedAt = performance.now()
      this.reconnect(this.home)
    })
  }

  private reconnect (target: number) {
    // A handshake that gets no answer is given up on, as OkHttp's and browsers' are.
    const onMessage = (data: Buffer) => {
      if (scan(data) === FrameKind.message) this.socket.see(frame.seq)
      // The server answers frames only once the socket has joined and sent what it missed: resumed.
      else if (this.resumedAt === 0 && data.toString() === PONG) this.resumedAt = performance.now()
    }
    openSocket(this.urls[target]!, this.room, this.token, HANDSHAKE_TIMEOUT_MS, this.socket.last, 'api', onMessage).then((ws) => {
      this.home = target
      this.ws = ws
      ws.on('error', () => {})
      this.watch(ws)
      ws.send(PING)
    }, (error: NodeJS.ErrnoException) => {
      const reason = error.code ?? `${target}: ${error.message}`
      refusals.set(reason, (refusals.get(reason) ?? 0) + 1)
      // The other instance next, after a moment with some jitter (as clients back off).
      setTimeout(() => { this.reconnect(1 - target) }, 50 + Math.random() * 100)
    })
  }
}

async function restart (checkout: string | undefined, label: string) {
  closeCodes.clear()
  refusals.clear()
  const database = await createDatabase(pgUrl)
  cleanups.push(() => database.drop())
  const prefix = `storm${process.pid}${label.replace(/\W/g, '')}:`
  const start = (i: number, port?: number) => startOurs({ name: `${label} #${i}`, databaseUrl: database.url, redisUrl, redisPrefix: prefix, tsx: false, checkout, port, nodeArgs: cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProf] })
  let first = await start(1)
  const second = await start(2)
  cleanups.push(() => second.stop(), () => first.stop())
  const urls = [first.url, second.url]
  const topology = { urls, rooms: 1, members: sockets, users }
  const setup = await setUp(topology, 'restart')
  const opened = await openSwarm(topology, setup, () => {}, undefined, undefined, 500, 60_000)
  const room = setup.roomNames[0]!
  const resuming = opened.map((socket, i) => new Resuming(socket, urls, room, setup.accounts[setup.userOf(0, i)]!.token, i % 2))
  // The sender's socket is on the instance that stays.
  const sender = resuming.find((r) => r.home === 1)!
  let n = 0
  const ticker = setInterval(() => {
    if (sender.ws.readyState === WebSocket.OPEN) sender.ws.send(`{"message":"tick ${n}","client_id":"tick-${n++}"}`)
  }, tickMs)
  await until(() => opened.every((s) => s.last > 0), 10_000 + tickMs)
  const stopped = performance.now()
  // CPU from the stop to the last resume: the instance that stays, the restarted one (its whole life), the generator.
  const stayingCpu = cpuSeconds(second.pid)
  const generatorCpu = process.cpuUsage()
  const port = Number(new URL(first.url).port)
  await first.stop()
  const down = performance.now()
  first = await start(1, port)
  const up = performance.now()
  const affected = resuming.filter((r) => r.closedAt > 0)
  const all = await until(() => affected.every((r) => r.resumedAt > 0), 60_000)
  const { user, system } = process.cpuUsage(generatorCpu)
  const cpuS = {
    staying: round2(cpuSeconds(second.pid) - stayingCpu),
    restarted: round2(cpuSeconds(first.pid)),
    generator: round2((user + system) / 1e6)
  }
  // One more message after the last resume: each socket must have it, and every one before it, once.
  const target = sender.socket.last + 1
  const caughtUp = await until(() => opened.every((s) => s.last >= target), 10_000 + 2 * tickMs)
  clearInterval(ticker)
  const last = Math.max(...affected.map((r) => r.resumedAt))
  const result = {
    server: label,
    sockets,
    tickMs,
    closed: affected.length,
    allResumed: all,
    allHaveTheNextMessage: caughtUp,
    resumedS: round2((last - stopped) / 1000),
    stopS: round2((down - stopped) / 1000),
    restartS: round2((up - down) / 1000),
    cpuS,
    backOnRestarted: affected.filter((r) => r.home === 0).length,
    notResumed: affected.filter((r) => r.resumedAt === 0).length,
    closeCodes: Object.fromEntries(closeCodes),
    refusals: Object.fromEntries(refusals),
    gaps: opened.reduce((sum, s) => sum + s.gaps, 0),
    repeats: opened.reduce((sum, s) => sum + s.backwards, 0)
  }
  log(JSON.stringify(result))
  for (const r of resuming) {
    r.done = true
    r.ws.terminate()
  }
  return result
}

async function main () {
  build(log)
  if (against !== undefined) build(log, against)
  const results: unknown[] = []
  if (only === undefined || only === 'storm') {
    const bare = await startBaseline()
    cleanups.push(() => bare.stop())
    results.push(await connectStorm(bare))
    await bare.stop()
    for (const [name, checkout] of [['this build', undefined], ...against === undefined ? [] : [['the other build', against]]] as Array<[string, string | undefined]>) {
      const fresh = await createDatabase(pgUrl)
      cleanups.push(() => fresh.drop())
      const ours = await startOurs({ name, databaseUrl: fresh.url, tsx: false, checkout })
      cleanups.push(() => ours.stop())
      results.push(await connectStorm(ours))
      await ours.stop()
    }
  }
  if (only === undefined || only === 'restart') {
    results.push(await restart(undefined, 'this build'))
    if (against !== undefined) results.push(await restart(against, 'the other build'))
  }
  console.log(JSON.stringify(results, null, 2))
}

main().then(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  process.exit(0)
}, async (error: unknown) => {
  log(`storm failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  process.exit(1)
})
