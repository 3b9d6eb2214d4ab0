import { Agent } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type WebSocket from 'ws'
import { call, mapLimit } from '../lib/api.js'
import { change, scanChange } from '../lib/frames.js'
import { cpuMeter } from '../lib/proc.js'
import { Samples } from '../lib/stats.js'
import { openSocket, setUp, until } from '../lib/swarm.js'

export interface ReactionsOptions { url: string, members: number, rounds: number, serverPids: number[] }

/** One emoji per round: every PUT adds a reaction its member does not have yet, so each one is a change. */
const EMOJIS = ['👍', '❤️', '😂', '🎉', '🔥', '👀', '🙏', '😮', '😢', '🚀', '✅', '💯', '🤔', '👏', '🥳', '😎']
const WARM_UP = ':warm-up:'
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

interface Reaction { emoji: string, count: number, user_ids: number[] }

/** A member's socket: checks that the message's states arrive once each, in rev order, and keeps the last. */
class Watcher {
  rev: number
  frames = 0
  gaps = 0
  backwards = 0
  closedEarly = false
  last: Buffer | undefined
  private pong: (() => void) | undefined

  constructor (readonly ws: WebSocket, fromRev: number) {
    this.rev = fromRev
    ws.on('message', (data: Buffer) => {
      if (scanChange(data)) {
        if (change.rev <= this.rev) { this.backwards++; return }
        if (change.rev !== this.rev + 1) this.gaps++
        this.rev = change.rev
        this.frames++
        this.last = data
      } else if (this.pong !== undefined && data.toString() === '{"type":"pong"}') {
        this.pong()
      }
    })
    ws.on('close', () => { this.closedEarly = true })
    ws.on('error', () => {})
  }

  joined (timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pong: the socket did not join in time')), timeoutMs)
      this.pong = () => { clearTimeout(timer); this.pong = undefined; resolve() }
      this.ws.send('{"type":"ping"}')
    })
  }
}

/**
 * Reactions at full tilt: M members of one room, each with a socket, all reacting to the same message in a closed
 * loop over REST (PUT a reaction, wait for its 200, PUT the next round's), R rounds of a new emoji each, so every
 * request is a change: M × R changes, each a rev and a `message_updated` frame to every socket. Reported: changes
 * a second (from the first PUT to the last 200) and each PUT's latency. Then every socket is checked to have been
 * sent every rev once, in order, and to end with the same reactions as the message itself (M of each emoji).
 * A warm-up first (each member adds and takes back a reaction), before the sockets open.
 */
export async function runReactions (options: ReactionsOptions) {
  const { url, members, rounds } = options
  if (rounds > EMOJIS.length) throw new Error(`at most ${EMOJIS.length} rounds`)
  // One user per member: a user's reaction is counted once, however many sockets it holds.
  const setup = await setUp({ urls: [url], rooms: 1, members, users: members }, 'react')
  const tokens = setup.accounts.map((a) => a.token)
  const room = setup.roomNames[0]!
  const agent = new Agent({ keepAlive: true, maxSockets: members })
  const base = `/api/chat/groups/${room}/messages/`
  const sent = await call<{ id: number }>(url, 'POST', base, { token: tokens[0]!, body: { message: 'react to this' } })
  if (sent.status !== 201) throw new Error(`send: ${sent.status} ${JSON.stringify(sent.body)}`)
  const path = `${base}${sent.body.id}/`
  const react = async (token: string, method: 'PUT' | 'DELETE', emoji: string) => {
    const reply = await call<{ reactions: Reaction[] }>(url, method, `${path}reactions/${encodeURIComponent(emoji)}/`, { token, agent })
    if (reply.status !== 200) throw new Error(`${method} reaction: ${reply.status} ${JSON.stringify(reply.body)}`)
    return reply.body
  }
  await Promise.all(tokens.map(async (token) => {
    await react(token, 'PUT', WARM_UP)
    await react(token, 'DELETE', WARM_UP)
  }))
  const fromRev = (await call<{ rev: number }>(url, 'GET', path, { token: tokens[0]! })).body.rev

  const watchers = await mapLimit(tokens, 50, async (token) => {
    const watcher = new Watcher(await openSocket(url, room, token, 30_000), fromRev)
    await watcher.joined(30_000)
    return watcher
  })

  const latency = new Samples()
  const serverCpu = cpuMeter(options.serverPids)
  const generatorCpu = process.cpuUsage()
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const started = performance.now()
  await Promise.all(tokens.map(async (token, m) => {
    for (let r = 0; r < rounds; r++) {
      const at = performance.now()
      const answer = await react(token, 'PUT', EMOJIS[r]!)
      latency.add(performance.now() - at)
      const mine = answer.reactions.find((e) => e.emoji === EMOJIS[r])
      if (mine === undefined || mine.count < 1) throw new Error(`member ${m}: the answer lacks its reaction ${EMOJIS[r]}`)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  const serverCpuPct = serverCpu()
  const generator = process.cpuUsage(generatorCpu)
  lag.disable()
  const changes = members * rounds
  const finalRev = fromRev + changes
  const caughtUp = await until(() => watchers.every((w) => w.rev >= finalRev || w.closedEarly), 15_000)

  // What the message is now, what it should be, and what each socket was last sent.
  const stored = (await call<{ rev: number, reactions: Reaction[] }>(url, 'GET', path, { token: tokens[0]! })).body
  const counts = (reactions: Reaction[]) => JSON.stringify(reactions.map(({ emoji, count }) => [emoji, count]))
  const expected = counts(EMOJIS.slice(0, rounds).map((emoji) => ({ emoji, count: members, user_ids: [] })))
  const seen = watchers.map((w) => w.last === undefined ? 'none' : counts(JSON.parse(w.last.toString()).reactions as Reaction[]))
  const differing = seen.filter((s) => s !== expected).length
  for (const w of watchers) {
    w.ws.removeAllListeners('close')
    w.ws.terminate()
  }
  agent.destroy()
  const s = latency.summary()
  return {
    mode: 'reactions',
    members,
    rounds,
    changes,
    seconds: round(seconds, 3),
    changesPerSec: Math.round(changes / seconds),
    latencyMs: { p50: round(s.p50, 3), p99: round(s.p99, 3), max: round(s.max, 3), samples: s.count },
    storedRev: stored.rev,
    expectedRev: finalRev,
    storedMatches: counts(stored.reactions) === expected && stored.rev === finalRev,
    // Sockets whose last frame's counts differ from the expected ones (none when all agree with the message).
    socketsDiffering: differing,
    framesPerSocket: { min: Math.min(...watchers.map((w) => w.frames)), max: Math.max(...watchers.map((w) => w.frames)) },
    // The last state's size: each change sends the message's whole reactions list to every socket.
    lastFrameBytes: watchers[0]?.last?.length ?? 0,
    lost: watchers.reduce((sum, w) => sum + Math.max(0, changes - w.frames), 0),
    duplicated: watchers.reduce((sum, w) => sum + w.backwards, 0),
    outOfOrder: watchers.reduce((sum, w) => sum + w.gaps, 0),
    socketsClosed: watchers.filter((w) => w.closedEarly).length,
    drained: caughtUp,
    serverCpuPct,
    generatorCpuPct: Math.round(((generator.user + generator.system) / 1e6 / seconds) * 100),
    generatorLagP99Ms: round(lag.percentile(99) / 1e6)
  }
}
