import type { Test } from 'tap'
import { api, type Account, type SocketClient } from './client.js'
import type { Instance } from './cluster.js'

// Shared by the cluster tests of 0.2's rev log (test/scale/revs-*.test.ts): a seeded workload of mixed changes
// that knows which answers changed something, the room's state read from changes/, and checks of a socket's stream.

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with REVS_SEED. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export const seedFromEnv = () => Number(process.env.REVS_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** A message as a socket frame carries it, without the frame's `type`. */
const stripType = ({ type: _type, ...message }: any) => message

/** Upserts message frames by id, last frame wins: what a client that follows docs/api.md holds. */
export function fold (frames: any[], into = new Map<number, any>()): Map<number, any> {
  for (const frame of frames) if (isChange(frame)) into.set(frame.id, stripType(frame))
  return into
}

export const isChange = (frame: any) => frame.type === 'message' || frame.type === 'message_updated'
export const changeFrames = (socket: SocketClient) => socket.frames.filter(isChange)
export const lastRev = (socket: SocketClient) => changeFrames(socket).at(-1)?.rev ?? 0

/** A state as a sorted list, so that `t.same` shows which message differs. */
export const sorted = (state: Map<number, any>) => [...state.values()].sort((x, y) => x.id - y.id)

/**
 * The room's state as changes/?since=0 gives it, paged to the end (`limit` 500); throws when the pages are not in
 * strictly increasing rev order or the page's `rev` is not its last message's.
 */
export async function feed (base: string, token: string, room: string) {
  const state = new Map<number, any>()
  let since = 0
  let pages = 0
  for (;;) {
    const page = await api(base, 'GET', `/api/chat/groups/${room}/changes/?since=${since}&limit=500`, { token })
    if (page.status !== 200) throw new Error(`changes/?since=${since}: ${page.status} ${JSON.stringify(page.body)}`)
    const { results, rev, has_more: more } = page.body as { results: any[], rev: number, has_more: boolean }
    let previous = since
    for (const message of results) {
      if (message.rev <= previous) throw new Error(`changes/ out of order: rev ${message.rev} after ${previous}`)
      previous = message.rev
      state.set(message.id, message)
    }
    if (results.length > 0 && rev !== previous) throw new Error(`changes/ page rev ${rev}, last result ${previous}`)
    pages++
    since = rev
    if (!more) return { state, rev, pages }
  }
}

/**
 * Every change that succeeded, by the rev its answer carried (a deletion answers 204 without a body: its rev is the
 * tombstone's, read from the feed at the end, since a tombstone never changes again). A rev answered twice means
 * an answer counted as a change was not one.
 */
export class ChangeLog {
  readonly owner = new Map<number, number>()
  readonly duplicates: string[] = []
  readonly deleted: number[] = []
  /** Answers that contradict what the lane knows (its own reaction not there after a 200). */
  readonly surprises: string[] = []
  /** Requests whose outcome is unknown (no answer): they may or may not have changed something. */
  uncertain = 0
  attempts = 0
  /** Answers by operation and status ("edit 200"), for the test's output. */
  readonly answers = new Map<string, number>()

  count (what: string, status: number | string) {
    const key = `${what} ${status}`
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1)
  }

  tally () { return [...this.answers].sort().map(([key, n]) => `${key}: ${n}`).join(', ') }

  record (rev: number, id: number, what: string) {
    const before = this.owner.get(rev)
    if (before !== undefined) this.duplicates.push(`rev ${rev} answered for ${before} and again for ${id} (${what})`)
    this.owner.set(rev, id)
  }

  get changes () { return this.owner.size + this.deleted.length }

  /** Adds the deletions' revs from the final state; returns the revs in 1..`rev` that no change accounts for. */
  settle (state: Map<number, any>, rev: number): number[] {
    for (const id of this.deleted) {
      const tombstone = state.get(id)
      if (tombstone?.deleted === true) this.record(tombstone.rev, id, 'delete')
    }
    const missing: number[] = []
    for (let r = 1; r <= rev; r++) if (!this.owner.has(r)) missing.push(r)
    return missing
  }
}

export interface Lane {
  tag: string
  user: Account
  /** The user's socket, for socket sends (acks arrive on it); none: sends go over REST. */
  socket?: SocketClient | undefined
  /** Where its REST requests go, in turn. */
  instances: Instance[]
  /** Emojis only this lane uses for its user: lanes of one user never race on a reaction. */
  emojis: string[]
  /** What the lane knows, kept across runs: its live messages and its reactions (set by `runLane`). */
  own?: number[]
  mine?: Map<string, boolean>
  /** Operations it has made: numbers its client_ids and edit texts, unique across runs. */
  step?: number
}

export interface Workload {
  room: string
  log: ChangeLog
  /** Every message id stored so far; the first `hot` of them draw most reactions. */
  known: number[]
  hot: number
  random: () => number
  /** Lanes stop when this says so (checked before each operation). */
  done: () => boolean
  /** Shares of the operations: socket or REST send, edit, delete; the rest are reactions. */
  mix?: { send: number, edit: number, remove: number }
}

const answered = async (request: Promise<{ status: number, body: any }>, log: ChangeLog) => {
  try { return await request } catch { log.uncertain++; return { status: 0, body: undefined } }
}

/**
 * Runs one lane: one operation at a time, so the lane knows whether each answer is a change (its user's reactions
 * with its emojis, its own messages' edits and its single deletion of each are its alone).
 */
export async function runLane (lane: Lane, work: Workload): Promise<void> {
  const { log, random, room } = work
  const mix = work.mix ?? { send: 0.2, edit: 0.25, remove: 0.04 }
  const own = lane.own ??= []
  const mine = lane.mine ??= new Map()
  const path = (rest: string) => `/api/chat/groups/${room}/${rest}`
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!
  const keep = (message: any, what: string) => {
    log.record(message.rev, message.id, what)
    own.push(message.id)
    work.known.push(message.id)
  }
  while (!work.done()) {
    const n = lane.step = (lane.step ?? 0) + 1
    const base = lane.instances[n % lane.instances.length]!.url
    const token = lane.user.token
    const roll = random()
    log.attempts++
    if (roll < mix.send || own.length === 0) {
      const clientId = `${lane.tag}-${n}`
      if (lane.socket !== undefined && random() < 0.5) {
        const socket = lane.socket
        const from = socket.frames.length
        socket.send({ message: `${lane.tag} says ${n}`, client_id: clientId })
        const frame = await socket.next((f) => f.client_id === clientId && (f.type === 'message' || f.type === 'error'), from, 20_000)
          .catch(() => { log.uncertain++ })
        log.count('socket send', frame?.type ?? 'none')
        if (frame?.type === 'message') keep(frame, 'socket send')
      } else {
        const sent = await answered(api(base, 'POST', path('messages/'), { token, body: { message: `${lane.tag} posts ${n}`, client_id: clientId } }), log)
        log.count('POST', sent.status)
        if (sent.status === 201) keep(sent.body, 'post')
      }
    } else if (roll < mix.send + mix.edit) {
      // Mostly the lane's first messages: the same few messages change again and again.
      const id = random() < 0.7 ? pick(own.slice(0, 2)) : pick(own)
      const edited = await answered(api(base, 'PATCH', path(`messages/${id}/`), { token, body: { message: `${lane.tag} edit ${n}` } }), log)
      log.count('PATCH', edited.status)
      if (edited.status === 200) log.record(edited.body.rev, id, 'edit')
    } else if (roll < mix.send + mix.edit + mix.remove && own.length > 1) {
      const id = own.splice(Math.floor(random() * own.length), 1)[0]!
      const removed = await answered(api(base, 'DELETE', path(`messages/${id}/`), { token }), log)
      log.count('DELETE', removed.status)
      if (removed.status === 204) log.deleted.push(id)
    } else if (work.known.length > 0) {
      const id = random() < 0.8 ? pick(work.known.slice(0, work.hot)) : pick(work.known)
      const emoji = pick(lane.emojis)
      const key = `${id} ${emoji}`
      const add = mine.get(key) !== true
      const reacted = await answered(api(base, add ? 'PUT' : 'DELETE',
        path(`messages/${id}/reactions/${encodeURIComponent(emoji)}/`), { token }), log)
      log.count(add ? 'PUT reaction' : 'DELETE reaction', reacted.status)
      if (reacted.status !== 200) continue
      const entry = (reacted.body.reactions as any[]).find((r) => r.emoji === emoji)
      const has = entry?.user_ids.includes(lane.user.user.id) === true
      if (has !== add) {
        log.surprises.push(`${lane.tag}: ${add ? 'PUT' : 'DELETE'} ${key} answered 200 with ${JSON.stringify(reacted.body.reactions)}`)
        continue
      }
      mine.set(key, add)
      log.record(reacted.body.rev, id, `reaction ${add ? '+' : '-'}`)
    }
  }
}

/**
 * Where a socket's stream breaks "each frame's rev is the previous one + 1": one line per break. With `allowSkip`,
 * a skipped rev is accepted when the message it belonged to reached the socket later with a higher rev.
 */
export function revBreaks (frames: any[], from: number, owner: Map<number, number>, allowSkip = false): string[] {
  const breaks: string[] = []
  const newest = new Map<number, number>()
  for (const frame of frames) newest.set(frame.id, Math.max(newest.get(frame.id) ?? 0, frame.rev))
  let previous = from
  for (const [i, frame] of frames.entries()) {
    if (frame.rev !== previous + 1) {
      const skipped = Array.from({ length: Math.max(0, frame.rev - previous - 1) }, (_, k) => previous + k + 1)
      const unexplained = skipped.filter((r) => !allowSkip || !((newest.get(owner.get(r) ?? -1) ?? 0) > r))
      if (frame.rev <= previous || unexplained.length > 0) {
        breaks.push(`frame ${i}: rev ${frame.rev} (${frame.type} of ${frame.id}) after ${previous}` +
          (unexplained.length > 0 ? `; missing ${unexplained.slice(0, 10).map((r) => `${r} (message ${owner.get(r)})`).join(', ')}` : ''))
      }
    }
    previous = Math.max(previous, frame.rev)
  }
  return breaks
}

/**
 * `message` for a message the socket had not seen, `message_updated` for one it had: one line per break. `excused`
 * lets a frame off (a new message whose creation the socket was not sent, after an outage).
 */
export function typeBreaks (frames: any[], seen = new Set<number>(), excused: (frame: any) => boolean = () => false): string[] {
  const breaks: string[] = []
  for (const [i, frame] of frames.entries()) {
    const expected = seen.has(frame.id) ? 'message_updated' : 'message'
    if (frame.type !== expected && !excused(frame)) breaks.push(`frame ${i}: ${frame.type} of ${frame.id} at rev ${frame.rev}, expected ${expected}`)
    seen.add(frame.id)
  }
  return breaks
}

/** The rev each message was created with: the lowest rev an answer gave it. */
export function creations (owner: Map<number, number>): Map<number, number> {
  const created = new Map<number, number>()
  for (const [rev, id] of owner) if (rev < (created.get(id) ?? Infinity)) created.set(id, rev)
  return created
}

/**
 * On failure, each instance's errors (level 50 and up, the readiness probe's expected "broker down" left out),
 * for the report: warnings during a Redis outage are many and expected.
 */
export function logsOnFailure (t: Test, instances: Instance[], seed: number) {
  t.teardown(() => {
    if (t.passing()) return
    t.comment(`REVS_SEED=${seed}`)
    for (const [i, instance] of instances.entries()) {
      const errors = instance.output().split('\n')
        .filter((line) => /"level":(5|6)0/.test(line) && !line.includes('Unavailable: broker'))
      t.comment(`instance ${i}: ${errors.length} error lines${errors.length > 0 ? `, the last:\n${errors.slice(-5).join('\n')}` : ''}`)
    }
  })
}
