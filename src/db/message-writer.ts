import { randomUUID } from 'node:crypto'
import { applyChanges, type ChangeRequest, type ChangeResult } from './change-batch.js'
import type { Database } from './client.js'
import { toMessage } from './mappers.js'
import type { MessageRow } from './schema/index.js'
import { EXCERPT_LENGTH, mentionedNames, searchVector } from '../chat/message-text.js'
import { isRetryable, isTurnMissed, isUniqueViolation, retryingConflicts } from '../lib/db-errors.js'
import type { Message } from '../schemas/messages.js'
import type { User } from '../schemas/users.js'

export interface SendRequest {
  roomId: number
  roomName: string
  sender: User
  message: string
  messageType: 'text' | 'image' | 'file' | 'system'
  clientId: string | null
  /** The id of the message this one answers: of the same room, not deleted. */
  replyTo: number | null
}

export interface SendResult {
  message: Message
  /** false when `client_id` matched a message stored before: the stored one is returned, nothing is written. */
  created: boolean
}

/** The sender is not (or no longer) a member of the room, or the room is gone: nothing was stored. */
export class SendRefused extends Error {
  constructor (readonly reason: 'not_member' | 'room_gone') {
    super(reason === 'not_member' ? 'You are not a member of this room.' : 'The room no longer exists.')
  }
}

/** `reply_to` names no message of the room, or a deleted one: nothing was stored. */
export class ReplyRefused extends Error {
  constructor () {
    super('reply_to must name a message of this room that is not deleted.')
  }
}

/** What the writer has committed: a new message (`message` frame) or a message's new state (`message_updated`). */
export interface Committed {
  roomId: number
  kind: 'created' | 'updated'
  message: Message
}

type Pending =
  | { kind: 'send', request: SendRequest, resolve: (result: SendResult) => void, reject: (error: unknown) => void }
  | { kind: 'change', request: ChangeRequest, resolve: (result: ChangeResult) => void, reject: (error: unknown) => void }

/** Answers each request of a committed batch: its result, or its refusal. */
function settle<T> (batch: Array<{ resolve: (result: T) => void, reject: (error: unknown) => void }>, outcomes: Array<T | Error>) {
  batch.forEach((pending, i) => {
    const outcome = outcomes[i]!
    if (outcome instanceof Error) pending.reject(outcome)
    else pending.resolve(outcome)
  })
}

/** Deadlocks between instances: a few tries. */
const MAX_ATTEMPTS = 3
const idempotencyKey = (r: SendRequest) => `${r.roomId}:${r.sender.id}:${r.clientId}`
/** Send batches at the database at once: one running, the next sent behind it on the same connection. */
const SENDS_IN_FLIGHT = 2
/** Reruns of a batch whose batch ahead did not commit: each follows one rerun of that one, which has its own bound. */
const MAX_TURNS_MISSED = 100

/** A batch of sends in flight. */
interface Flight {
  size: number
  /** What it makes the connection's `chat.batch` once it commits (see `chat_batch_turn`). */
  token: string
}

/**
 * Group commit, for sends and for changes (edits, deletions, reactions). Requests that arrive while a transaction
 * is in flight wait and go together in a later one, in arrival order: a run of sends is one statement (per room
 * one `UPDATE rooms` hands out a gapless range of seqs and revs, and one multi-row INSERT stores them), a run of
 * changes one transaction (see `applyChanges`). Nothing resolves before its transaction commits, and `onCommit`
 * hears of it first (see src/chat/publish.ts: published only after commit); a failed batch fails every request in
 * it and stores none.
 *
 * A second batch of sends is sent while one is in flight, so that the database starts it the moment the first has
 * committed instead of after a round trip and the first one's publication. The writer's connection runs them one
 * after the other and answers in that order, so seqs, revs and `onCommit` keep the order the batches were sent
 * in. Each is its own transaction, though: if the first fails (a `client_id` stored meanwhile by another instance, a
 * deadlock) and is run again, the second would commit before it. So the second checks, as it starts, that the first
 * committed (`chat_batch_turn`: each batch leaves a token in a setting of the connection, which an aborted
 * transaction takes back); if not, it stores nothing and runs again behind the first one's rerun. So whatever
 * reruns, batches commit in the order they were sent and no sender's messages change their order. Changes run alone, in
 * their place in the arrival order.
 */
export class MessageWriter {
  private queue: Pending[] = []
  /** The send batches in flight, oldest first (a rerun batch can end after a later one). */
  private readonly inFlight: Flight[] = []
  /** Batches are numbered after this writer's own name: another writer on the connection leaves other tokens. */
  private readonly name = randomUUID()
  private batches = 0
  private changing = false
  private pumpQueued = false
  private idleWaiters: Array<() => void> = []

  constructor (
    private readonly database: Pick<Database, 'query' | 'transaction'>,
    private readonly maxBatch: number,
    /** Called once per committed batch, in rev order per room, before any of its requests resolves. */
    private readonly onCommit: (committed: Committed[]) => void
  ) {}

  send (request: SendRequest): Promise<SendResult> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'send', request, resolve, reject }))
  }

  change (request: ChangeRequest): Promise<ChangeResult> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'change', request, resolve, reject }))
  }

  /** Resolves once every request queued so far has been settled. */
  async idle (): Promise<void> {
    if (this.isIdle()) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private isIdle (): boolean {
    return this.queue.length === 0 && this.inFlight.length === 0 && !this.changing
  }

  private enqueue (pending: Pending): void {
    this.queue.push(pending)
    if (this.pumpQueued) return
    this.pumpQueued = true
    // Once, after the requests arriving in the same tick: they share a transaction.
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  /** Starts what may start now: a run of changes when nothing is in flight, or a batch of sends beside at most one. */
  private pump (): void {
    while (this.queue.length > 0 && !this.changing) {
      if (this.queue[0]!.kind === 'change') {
        if (this.inFlight.length > 0) return
        let n = 1
        while (n < this.queue.length && n < this.maxBatch && this.queue[n]!.kind === 'change') n++
        this.changing = true
        void this.commitChanges(this.queue.splice(0, n) as Array<Extract<Pending, { kind: 'change' }>>).finally(() => {
          this.changing = false
          this.pump()
        })
        return
      }
      if (this.inFlight.length >= SENDS_IN_FLIGHT) return
      // Behind a batch in flight, one goes once it is as large as that one (or full): a batch costs the database
      // about the same whatever its size, and the one in flight commits before it runs anyway.
      const batch = this.takeSends(this.inFlight.length === 0 ? 1 : Math.min(this.inFlight[0]!.size, this.maxBatch))
      if (batch.length === 0) return
      const entry: Flight = { size: batch.length, token: `${this.name}.${++this.batches}` }
      // Behind the batch sent before it, this one commits only after that one's commit.
      const ahead = this.inFlight.at(-1)
      this.inFlight.push(entry)
      void this.commitSends(batch, entry, ahead).finally(() => {
        this.inFlight.splice(this.inFlight.indexOf(entry), 1)
        this.pump()
      })
    }
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  /** The sends at the head of the queue, up to the first change and at most a batch, if there are `least` of them. */
  private takeSends (least: number): Array<Extract<Pending, { kind: 'send' }>> {
    let end = 0
    while (end < this.queue.length && end < this.maxBatch && this.queue[end]!.kind === 'send') end++
    if (end < least) return []
    return this.queue.splice(0, end) as Array<Extract<Pending, { kind: 'send' }>>
  }

  /** Runs a batch until it commits or fails for good; `ahead`, the batch in flight it must follow, if any. */
  private async commitSends (batch: Array<Extract<Pending, { kind: 'send' }>>, entry: Flight, ahead: Flight | undefined): Promise<void> {
    let missed = 0
    for (let attempt = 1; ; attempt++) {
      try {
        // Once the batch ahead is settled (committed, or failed for good), this one need not follow it.
        const after = ahead !== undefined && this.inFlight.includes(ahead) ? ahead.token : null
        const outcomes = await this.write(batch.map((p) => p.request), after, entry.token)
        this.onCommit(outcomes.flatMap((outcome, i) => outcome instanceof Error || !outcome.created
          ? []
          : [{ roomId: batch[i]!.request.roomId, kind: 'created' as const, message: outcome.message }]))
        settle(batch, outcomes)
        return
      } catch (error) {
        // The batch ahead did not commit: its rerun was sent before this one's, which follows it.
        if (isTurnMissed(error) && ++missed <= MAX_TURNS_MISSED) { attempt--; continue }
        // A concurrent writer stored the same client_id (a client resending on another instance): run the batch
        // again, and the rerun finds it stored. Each collision is with a row committed meanwhile, so this ends;
        // a batch of n can collide at most n times with retries of its own sends.
        if (isUniqueViolation(error) && attempt <= batch.length + MAX_ATTEMPTS) continue
        // A deadlock between instances.
        if (attempt < MAX_ATTEMPTS && isRetryable(error)) continue
        for (const pending of batch) pending.reject(error)
        return
      }
    }
  }

  private async commitChanges (batch: Array<Extract<Pending, { kind: 'change' }>>): Promise<void> {
    try {
      const { outcomes, committed } = await retryingConflicts(() => this.database.transaction((query) =>
        applyChanges(query, batch.map((p) => p.request))), MAX_ATTEMPTS)
      this.onCommit(committed.map(({ roomId, message }) => ({ roomId, kind: 'updated' as const, message })))
      settle(batch, outcomes)
    } catch (error) {
      for (const pending of batch) pending.reject(error)
    }
  }

  /**
   * One statement, so one round trip and its own transaction: check membership and `reply_to`, find retries of
   * stored `client_id`s, move each room's `last_seq` and `last_rev` by its count of new messages (the row lock
   * orders concurrent writers) and insert the new messages with the seqs and revs of that range, in request order.
   */
  private async write (requests: SendRequest[], after: string | null, token: string): Promise<Array<SendResult | SendRefused | ReplyRefused>> {
    // Repeats of a client_id within the batch are not sent: they get the first one's outcome.
    const firstInBatch = new Map<string, number>()
    const input: WriteInput[] = []
    requests.forEach((request, i) => {
      if (request.clientId !== null) {
        const key = idempotencyKey(request)
        if (firstInBatch.has(key)) return
        firstInBatch.set(key, i)
      }
      input.push({
        i,
        room_id: request.roomId,
        sender_id: request.sender.id,
        message: request.message,
        message_type: request.messageType,
        client_id: request.clientId,
        reply_to: request.replyTo,
        names: mentionedNames(request.message),
        words: searchVector(request.message)
      })
    })
    const full = input.some((row) => row.reply_to !== null || row.names.length > 0)
    const rows = await this.database.query<WriteOutput>(full ? WRITE_BATCH_FULL : WRITE_BATCH, [JSON.stringify(input), after, token])

    const outcomes: Array<SendResult | SendRefused | ReplyRefused> = []
    for (const row of rows) {
      const request = requests[row.i]!
      if (!row.member) {
        outcomes[row.i] = new SendRefused('not_member')
      } else if (row.prior !== null) {
        outcomes[row.i] = { message: toMessage(priorRow(row.prior), request.roomName, request.sender), created: false }
      } else if (!row.reply_ok) {
        outcomes[row.i] = new ReplyRefused()
      } else if (row.id === null) {
        outcomes[row.i] = new SendRefused('room_gone')
      } else {
        outcomes[row.i] = {
          message: toMessage({
            id: row.id,
            roomId: request.roomId,
            seq: row.seq!,
            rev: row.rev!,
            createdRev: row.rev!,
            senderId: request.sender.id,
            message: request.message,
            messageType: request.messageType,
            clientId: request.clientId,
            createdAt: new Date(row.created_at!),
            editedAt: null,
            deleted: false,
            replyToId: request.replyTo,
            replyTo: row.reply,
            reactions: [],
            mentions: row.mentions ?? []
          }, request.roomName, request.sender),
          created: true
        }
      }
    }
    return requests.map((request, i) => {
      const outcome = outcomes[i]
      if (outcome !== undefined) return outcome
      const first = outcomes[firstInBatch.get(idempotencyKey(request))!]!
      return first instanceof Error ? first : { message: first.message, created: false }
    })
  }
}

/** A stored message as `to_jsonb` gives it: snake_case keys, timestamps as text. */
const priorRow = (prior: Record<string, unknown>): MessageRow => ({
  id: Number(prior.id),
  roomId: Number(prior.room_id),
  seq: Number(prior.seq),
  rev: Number(prior.rev),
  createdRev: Number(prior.created_rev),
  senderId: Number(prior.sender_id),
  message: prior.message as string,
  messageType: prior.message_type as MessageRow['messageType'],
  clientId: prior.client_id as string | null,
  createdAt: new Date(prior.created_at as string),
  editedAt: prior.edited_at === null ? null : new Date(prior.edited_at as string),
  deleted: prior.deleted as boolean,
  replyToId: prior.reply_to_id === null ? null : Number(prior.reply_to_id),
  replyTo: prior.reply_to as MessageRow['replyTo'],
  reactions: prior.reactions as MessageRow['reactions'],
  mentions: prior.mentions as number[]
})

/**
 * `$1` is a JSON array of WriteInput; the answer has one WriteOutput row per element. `$2` is the token of the batch
 * this one must follow (null for none) and `$3` its own: `chat_batch_turn` checks and sets them once, first. The (room_id, seq) unique
 * index and the `client_id` one make a concurrent duplicate fail the statement, which is then run again. Ids are
 * drawn before the insert, and every new row has the same created_at (its default, the transaction's now()), so
 * no row needs matching back to its request. Lookups are subqueries on unique indexes, keyed by the JSON's values
 * rather than by parameters: one plan serves every batch (on PostgreSQL it is kept, see `writer` in src/db/client.ts).
 * `names` are the lowercased usernames the text mentions: those of members become `mentions`, in order.
 */
/** The batch statement; `full` when some send of the batch has a `reply_to` or mentions someone. */
const writeBatch = (full: boolean) => {
  const reply = full
    ? `(select jsonb_build_object('id', t.id, 'seq', t.seq, 'excerpt', left(t.message, ${EXCERPT_LENGTH}),
          'sender', jsonb_build_object('id', u.id, 'username', u.username, 'first_name', u.first_name, 'last_name', u.last_name))
        from messages t join users u on u.id = t.sender_id
        where t.id = r.reply_to and t.room_id = r.room_id and not t.deleted) as reply,`
    : 'null::jsonb as reply,'
  const mentions = full
    ? `array(select u.id from jsonb_array_elements_text(r.names) with ordinality as c(name, o)
        join users u on lower(u.username) = c.name
        where exists (select from room_members rm where rm.room_id = r.room_id and rm.user_id = u.id)
        group by u.id order by min(c.o), u.id) as mentions`
    : "'{}'::int[] as mentions"
  return `
  with req as (
    select r.*,
      coalesce((select true from room_members rm where rm.room_id = r.room_id and rm.user_id = r.sender_id), false) as member,
      (select to_jsonb(m) from messages m
        where m.room_id = r.room_id and m.sender_id = r.sender_id and m.client_id = r.client_id) as prior,
      ${reply}
      ${mentions}
    from jsonb_to_recordset($1::text::jsonb)
      as r(i int, room_id int, sender_id int, message text, message_type text, client_id text, reply_to bigint, names jsonb,
        words text)
    where (select chat_batch_turn($2::text, $3::text))
  ), fresh as (
    select *, row_number() over (partition by room_id order by i) as k from req
    where member and prior is null and (reply_to is null or reply is not null)
  ), bumped as (
    update rooms set last_seq = rooms.last_seq + c.n, last_rev = rooms.last_rev + c.n
    from (select room_id, count(*) as n from fresh group by room_id) c where rooms.id = c.room_id
    returning rooms.id, rooms.last_seq - c.n as seq_base, rooms.last_rev - c.n as rev_base
  ), numbered as (
    select f.*, b.seq_base + f.k as seq, b.rev_base + f.k as rev, nextval('messages_id_seq') as id
    from fresh f join bumped b on b.id = f.room_id
  ), stored as (
    insert into messages (id, room_id, seq, rev, created_rev, sender_id, message, message_type, client_id, reply_to_id, reply_to,
      mentions, search)
    select id, room_id, seq, rev, rev, sender_id, message, message_type, client_id, reply_to, reply, mentions, words::tsvector
    from numbered
    returning created_at
  ), read as (
    update room_members rm set last_read_seq = greatest(rm.last_read_seq, s.seq)
    from (select room_id, sender_id, max(seq) as seq from numbered group by room_id, sender_id) s
    where rm.room_id = s.room_id and rm.user_id = s.sender_id
  )${full
    ? `, mentioned as (
    insert into message_mentions (room_id, user_id, seq, message_id)
    select n.room_id, u.id, n.seq, n.id from numbered n cross join lateral unnest(n.mentions) as u(id)
  )`
    : ''}
  select r.i, r.member, r.prior, (r.reply_to is null or r.reply is not null) as reply_ok, r.reply, r.mentions,
    n.id::float8 as id, n.seq::float8 as seq, n.rev::float8 as rev,
    case when n.id is not null then (select created_at from stored limit 1) end as created_at
  from req r left join numbered n on n.i = r.i`
}
// Most sends neither reply nor mention: their batches run the plain statement, which runs (and, embedded, plans) in
// less time.
const WRITE_BATCH = writeBatch(false)
const WRITE_BATCH_FULL = writeBatch(true)

interface WriteInput {
  i: number
  room_id: number
  sender_id: number
  message: string
  message_type: SendRequest['messageType']
  client_id: string | null
  reply_to: number | null
  names: string[]
  /** The words of the text, for the search index (a tsvector literal). */
  words: string
}

interface WriteOutput {
  i: number
  member: boolean
  /** The message stored before with this `client_id`. */
  prior: Record<string, unknown> | null
  reply_ok: boolean
  reply: MessageRow['replyTo']
  mentions: number[] | null
  id: number | null
  seq: number | null
  rev: number | null
  created_at: Date | string | null
}
