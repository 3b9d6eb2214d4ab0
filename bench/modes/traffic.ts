import { monitorEventLoopDelay } from 'node:perf_hooks'
import { clientId, frame } from '../lib/frames.js'
import { commitTotals } from '../lib/metrics.js'
import { analyze, databaseCpuMeter } from '../lib/pg-cpu.js'
import { cpuMeter, loopDelayMeter, threadCpuMeter } from '../lib/proc.js'
import { Samples } from '../lib/stats.js'
import { closeSwarm, errorCounts, openSwarm, setUp, until, type BenchSocket, type Topology } from '../lib/swarm.js'

export interface TrafficOptions extends Topology {
  senders: number
  /** Closed loop: each sender keeps this many messages unacknowledged (its own broadcast is the ack). */
  window?: number | undefined
  /** Open loop: messages a second over all senders, whatever the server does. */
  rate?: number | undefined
  durationS: number
  /** The first seconds are not counted (connections, JIT, pools warming up). */
  warmupS: number
  /** Characters in each message. */
  size: number
  /** Every member socket sends a `read` frame for every message it receives. */
  readFrames?: boolean
  serverPids: number[]
  /** The server's PostgreSQL database: its backends' CPU is read beside the server's (bench/lib/pg-cpu.ts). */
  databaseCpu?: string | undefined
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits
const ms = (micros: number) => round(micros / 1000, 3)

/**
 * Throughput (closed loop) and latency (open loop). Counts, over the measured window, the messages acknowledged to
 * their senders (stored msgs/s: the server acknowledges only after commit) and the frames delivered to every member
 * socket, and times send→deliver for each delivery. Then stops sending, lets every socket catch up, and counts the
 * frames that were lost, repeated or out of order.
 */
export async function runTraffic (options: TrafficOptions) {
  const { rooms, members, senders, window, rate, durationS, warmupS, size } = options
  if (senders > rooms * members) throw new Error('more senders than member sockets')
  if ((window === undefined) === (rate === undefined)) throw new Error('give either --window or --rate')
  const setup = await setUp(options, 'tr')

  const sentBy = new Int32Array(senders)
  const roomTop = new Float64Array(rooms)
  const latency = new Samples()
  let sending = false
  let measuring = false
  let sent = 0
  let acked = 0
  let ackedInWindow = 0
  let deliveredInWindow = 0
  const text = 'x'.repeat(Math.max(1, size))

  // Read frames leave once every frame this poll brought has been timed: a hundred members on one thread must not
  // time each other's writes (each socket's `send` is a write of its own, and the member timed after it would
  // wait for it, where a real member's device waits for no one else's).
  const reads: Array<[BenchSocket, number]> = []
  const sendReads = () => {
    for (const [socket, seq] of reads) socket.ws.send(`{"type":"read","seq":${seq}}`)
    reads.length = 0
  }
  const onMessage = (socket: BenchSocket, now: number) => {
    if (frame.seq > roomTop[socket.room]!) roomTop[socket.room] = frame.seq
    if (options.readFrames === true && reads.push([socket, frame.seq]) === 1) setImmediate(sendReads)
    if (measuring) {
      deliveredInWindow++
      if (frame.sender >= 0) latency.add(now * 1000 - frame.sentAt)
    }
    if (frame.sender >= 0 && frame.sender === socket.sender) {
      acked++
      if (measuring) ackedInWindow++
      if (sending && window !== undefined) send(socket)
    }
  }
  // A refused send (its client_id in the error frame) frees its slot in the window: it is counted, not retried.
  let refused = 0
  const onError = (socket: BenchSocket, _code: string, sender: number) => {
    if (sender < 0 || sender !== socket.sender) return
    refused++
    if (sending && window !== undefined) send(socket)
  }
  const sockets = await openSwarm(options, setup, onMessage, undefined, onError)
  const senderSockets = pickSenders(sockets, rooms, members, senders)
  function send (socket: BenchSocket): void {
    const k = socket.sender
    const id = clientId(k, sentBy[k]!++, Math.round(performance.now() * 1000))
    socket.send(`{"message":"${text}","message_type":"text","client_id":"${id}"}`)
    sent++
  }

  const lag = monitorEventLoopDelay({ resolution: 10 })
  const started = performance.now()
  sending = true
  let overCapacity = false
  if (window !== undefined) {
    for (const socket of senderSockets) for (let i = 0; i < window; i++) send(socket)
  } else {
    void pace(rate!, () => sending, () => {
      // Open loop, but bounded: a server that falls 5 s behind is over capacity, and the run says so.
      if (sent - acked - refused > rate! * 5) { overCapacity = true; sending = false; return }
      send(senderSockets[sent % senderSockets.length]!)
    })
  }
  if (options.databaseCpu === undefined) {
    await sleep(warmupS * 1000)
  } else {
    // Midway through the warm-up, the statistics of the server's tables are made, as autovacuum makes them within a
    // minute of a table's first rows: what a database that has run for a minute plans with (src/db/client.ts).
    await sleep(warmupS * 500)
    await analyze(options.databaseCpu)
    await sleep(warmupS * 500)
  }
  lag.enable()
  const commitsBefore = await commitTotals(options.urls)
  const databaseCpu = options.databaseCpu === undefined ? undefined : await databaseCpuMeter(options.databaseCpu)
  const loops = await Promise.all(options.serverPids.map((pid) => loopDelayMeter(pid)))
  const threadCpu = options.serverPids.length === 1 ? threadCpuMeter(options.serverPids[0]!) : undefined
  const serverCpu = cpuMeter(options.serverPids)
  const generatorCpu = process.cpuUsage()
  measuring = true
  const windowStart = performance.now()
  await until(() => !sending, (durationS - warmupS) * 1000)
  measuring = false
  const windowS = (performance.now() - windowStart) / 1000
  const serverCpuPct = serverCpu()
  const threads = threadCpu?.()
  const generator = process.cpuUsage(generatorCpu)
  const databaseCpuS = await databaseCpu?.()
  const loopDelays = await Promise.all(loops.map((end) => end()))
  const commitsAfter = await commitTotals(options.urls)
  const commits = commitsBefore === undefined || commitsAfter === undefined
    ? undefined
    : { commits: commitsAfter.commits - commitsBefore.commits, messages: commitsAfter.messages - commitsBefore.messages }
  lag.disable()
  sending = false
  /** CPU per message acknowledged in the window, in µs. */
  const perMessage = (seconds: number) => ackedInWindow === 0 ? null : Math.round((seconds * 1e6) / ackedInWindow)

  // Every send answered, then every socket up to its room's last seq (bounded).
  const acksDrained = await until(() => sent === acked + refused || sockets.some((s) => s.closedEarly), 15_000)
  const caughtUp = await until(() => sockets.every((s) => s.last >= roomTop[s.room]! || s.closedEarly), 15_000)
  const lost = sockets.reduce((sum, s) => sum + Math.max(0, roomTop[s.room]! - s.received), 0)
  const summary = latency.summary()
  closeSwarm(sockets)
  return {
    mode: window !== undefined ? 'throughput' : 'latency',
    rooms,
    members,
    senders,
    users: setup.accounts.length,
    window,
    rate,
    size,
    seconds: round(windowS),
    storedPerSec: Math.round(ackedInWindow / windowS),
    deliveriesPerSec: Math.round(deliveredInWindow / windowS),
    latencyMs: { p50: ms(summary.p50), p99: ms(summary.p99), max: ms(summary.max), samples: summary.count },
    sent,
    acked,
    refused,
    unacked: sent - acked - refused,
    lost,
    duplicated: sum(sockets, (s) => s.backwards),
    outOfOrder: sum(sockets, (s) => s.gaps),
    errorFrames: errorCounts(sockets),
    socketsClosed: sum(sockets, (s) => s.closedEarly ? 1 : 0),
    drained: acksDrained && caughtUp,
    overCapacity,
    serverCpuPct,
    serverCpuUsPerMsg: serverCpuPct === null ? null : perMessage((serverCpuPct / 100) * windowS),
    // The event loop (main thread) and the server's other threads: the embedded database's worker, GC helpers.
    serverThreadsCpuPct: threads === undefined
      ? undefined
      : { main: Math.round((threads.main / windowS) * 100), others: Math.round((threads.others / windowS) * 100) },
    databaseCpuPct: databaseCpuS === undefined ? undefined : Math.round((databaseCpuS / windowS) * 100),
    databaseCpuUsPerMsg: databaseCpuS === undefined ? undefined : perMessage(databaseCpuS),
    // The server's event-loop delay over the window (1 ms resolution: a block of b ms shows as about b + 1).
    serverLoopDelayMs: loopDelays.some((d) => d === undefined)
      ? undefined
      : {
          max: Math.max(...loopDelays.map((d) => d!.maxMs)),
          p99: Math.max(...loopDelays.map((d) => d!.p99Ms)),
          // The longest GC pause of the main thread, and the pauses' sum: how much of the delay was the collector.
          gcMax: Math.max(...loopDelays.map((d) => d!.gcMaxMs)),
          gcTotal: Math.round(loopDelays.reduce((sum, d) => sum + d!.gcTotalMs, 0))
        },
    // Group commit: transactions a second, and messages per transaction, over the window.
    commitsPerSec: commits === undefined ? undefined : Math.round(commits.commits / windowS),
    meanBatch: commits === undefined || commits.commits === 0 ? undefined : round(commits.messages / commits.commits, 1),
    generatorCpuPct: Math.round(((generator.user + generator.system) / 1e6 / windowS) * 100),
    generatorLagP99Ms: round(lag.percentile(99) / 1e6),
    elapsedS: round((performance.now() - started) / 1000)
  }
}

/** Sender k is member floor(k / rooms) of room k % rooms, so senders spread over rooms (and instances). */
function pickSenders (sockets: BenchSocket[], rooms: number, members: number, senders: number): BenchSocket[] {
  return Array.from({ length: senders }, (_, k) => {
    const socket = sockets[(k % rooms) * members + Math.floor(k / rooms)]!
    socket.sender = k
    return socket
  })
}

/** Calls `tick` `rate` times a second on average (catching up after a late timer) while `active()`. */
async function pace (rate: number, active: () => boolean, tick: () => void): Promise<void> {
  const start = performance.now()
  let done = 0
  while (active()) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate)
    for (; done < due && active(); done++) tick()
    await sleep(1)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const sum = (sockets: BenchSocket[], f: (s: BenchSocket) => number) => sockets.reduce((total, s) => total + f(s), 0)
