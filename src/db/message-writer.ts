import { toMessage } from './mappers.js'
import type { MessageRow } from './schema/index.js'
import type { Database } from './client.js'
import { isRetryable, isUniqueViolation } from '../lib/db-errors.js'
import type { Message } from '../schemas/messages.js'
import type { User } from '../schemas/users.js'

export interface SendRequest {
  roomId: number
  roomName: string
  sender: User
  message: string
  messageType: 'text' | 'image' | 'file' | 'system'
  clientId: string | null
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

interface Pending {
  request: SendRequest
  resolve: (result: SendResult) => void
  reject: (error: unknown) => void
}

/** Deadlocks between instances: a few tries. */
const MAX_ATTEMPTS = 3
const idempotencyKey = (r: SendRequest) => `${r.roomId}:${r.sender.id}:${r.clientId}`

/**
 * Group commit. Sends that arrive while a transaction is in flight wait and go together in the next one: per room
 * one `UPDATE rooms SET last_seq = last_seq + n` hands out a gapless range of seqs, and one multi-row INSERT stores
 * the batch. Order within a room is arrival order. Nothing resolves before its transaction commits; a failed batch
 * fails every send in it and stores none.
 */
export class MessageWriter {
  private queue: Pending[] = []
  private flushing: Promise<void> | undefined

  constructor (
    private readonly query: Database['query'],
    private readonly maxBatch: number,
    /** Called once per committed batch with the new messages, in seq order per room, before any send resolves. */
    private readonly onCommit: (created: Array<{ roomId: number, message: Message }>) => void
  ) {}

  send (request: SendRequest): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject })
      this.flushing ??= this.drain()
    })
  }

  /** Resolves once every send queued so far has been settled. */
  async idle (): Promise<void> {
    while (this.flushing !== undefined) await this.flushing
  }

  private async drain (): Promise<void> {
    // Yield once so that sends arriving in the same tick share the first transaction.
    await Promise.resolve()
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch)
      await this.commit(batch)
    }
    this.flushing = undefined
  }

  private async commit (batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.write(batch.map((p) => p.request))
        this.onCommit(outcomes.flatMap((outcome, i) => outcome instanceof Error || !outcome.created
          ? []
          : [{ roomId: batch[i]!.request.roomId, message: outcome.message }]))
        batch.forEach((pending, i) => {
          const outcome = outcomes[i]!
          if (outcome instanceof Error) pending.reject(outcome)
          else pending.resolve(outcome)
        })
        return
      } catch (error) {
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

  /**
   * One statement, so one round trip and its own transaction: check membership, find retries of stored
   * `client_id`s, move each room's `last_seq` by its count of new messages (the row lock orders concurrent
   * writers) and insert the new messages with the seqs of that range, in request order.
   */
  private async write (requests: SendRequest[]): Promise<Array<SendResult | SendRefused>> {
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
        client_id: request.clientId
      })
    })
    const rows = await this.query<WriteOutput>(WRITE_BATCH, [JSON.stringify(input)])

    const outcomes: Array<SendResult | SendRefused> = []
    for (const row of rows) {
      const request = requests[row.i]!
      if (!row.member) {
        outcomes[row.i] = new SendRefused('not_member')
      } else if (row.id === null) {
        outcomes[row.i] = new SendRefused('room_gone')
      } else {
        outcomes[row.i] = {
          message: toMessage({
            id: row.id,
            roomId: request.roomId,
            seq: row.seq!,
            senderId: request.sender.id,
            message: row.message!,
            messageType: row.message_type!,
            clientId: request.clientId,
            createdAt: new Date(row.created_at!)
          }, request.roomName, request.sender),
          created: row.created
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

/**
 * `$1` is a JSON array of WriteInput; the answer has one WriteOutput row per element. The (room_id, seq) unique
 * index and the `client_id` one make a concurrent duplicate fail the statement, which is then run again. Ids are
 * drawn before the insert, and every new row has the same created_at (its default, the transaction's now()), so
 * no row needs matching back to its request. Lookups are subqueries on the unique indexes: cheap to plan at each run.
 */
const WRITE_BATCH = `
  with req as (
    select r.*,
      exists (select from room_members rm where rm.room_id = r.room_id and rm.user_id = r.sender_id) as member,
      (select m from messages m
        where m.room_id = r.room_id and m.sender_id = r.sender_id and m.client_id = r.client_id) as prior
    from jsonb_to_recordset($1::text::jsonb)
      as r(i int, room_id int, sender_id int, message text, message_type text, client_id text)
  ), fresh as (
    select *, row_number() over (partition by room_id order by i) as k from req where member and (prior).id is null
  ), bumped as (
    update rooms set last_seq = rooms.last_seq + c.n
    from (select room_id, count(*) as n from fresh group by room_id) c where rooms.id = c.room_id
    returning rooms.id, rooms.last_seq - c.n as base
  ), numbered as (
    select f.*, b.base + f.k as seq, nextval('messages_id_seq') as id from fresh f join bumped b on b.id = f.room_id
  ), stored as (
    insert into messages (id, room_id, seq, sender_id, message, message_type, client_id)
    select id, room_id, seq, sender_id, message, message_type, client_id from numbered
    returning created_at
  )
  select r.i, r.member, n.i is not null as created,
    coalesce(n.id, (r.prior).id)::float8 as id, coalesce(n.seq, (r.prior).seq)::float8 as seq,
    coalesce((r.prior).message, n.message) as message, coalesce((r.prior).message_type, n.message_type) as message_type,
    coalesce((r.prior).created_at, (select created_at from stored limit 1)) as created_at
  from req r left join numbered n on n.i = r.i`

interface WriteInput {
  i: number
  room_id: number
  sender_id: number
  message: string
  message_type: SendRequest['messageType']
  client_id: string | null
}

interface WriteOutput {
  i: number
  member: boolean
  created: boolean
  id: number | null
  seq: number | null
  message: string | null
  message_type: MessageRow['messageType'] | null
  created_at: Date | string | null
}
