import { and, inArray, sql } from 'drizzle-orm'
import { toMessage, type MessageRow } from './message-mapping.js'
import type { Db } from './client.js'
import { messages, roomMembers, rooms } from './schema/index.js'
import { isRetryable, isUniqueViolation } from '../lib/db-errors.js'
import type { MessageBody } from '../schemas/messages.js'
import type { UserBody } from '../schemas/users.js'

export interface SendRequest {
  roomId: number
  roomName: string
  sender: UserBody
  message: string
  messageType: 'text' | 'image' | 'file' | 'system'
  clientId: string | null
}

export interface SendResult {
  message: MessageBody
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
    private readonly db: Db,
    private readonly maxBatch: number,
    /** Called once per committed batch with the new messages, in seq order per room, before any send resolves. */
    private readonly onCommit: (created: Array<{ roomId: number, message: MessageBody }>) => void
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
        const outcomes = await this.db.transaction((tx) => this.write(tx as unknown as Db, batch.map((p) => p.request)))
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
        // A concurrent writer stored the same client_id, or a deadlock between instances: run the batch again.
        if (attempt < MAX_ATTEMPTS && (isUniqueViolation(error) || isRetryable(error))) continue
        for (const pending of batch) pending.reject(error)
        return
      }
    }
  }

  private async write (tx: Db, requests: SendRequest[]): Promise<Array<SendResult | SendRefused>> {
    const roomIds = [...new Set(requests.map((r) => r.roomId))]
    const senderIds = [...new Set(requests.map((r) => r.sender.id))]
    const members = await tx.select({ roomId: roomMembers.roomId, userId: roomMembers.userId }).from(roomMembers)
      .where(and(inArray(roomMembers.roomId, roomIds), inArray(roomMembers.userId, senderIds)))
    const memberKeys = new Set(members.map((m) => `${m.roomId}:${m.userId}`))

    const clientIds = [...new Set(requests.flatMap((r) => r.clientId === null ? [] : [r.clientId]))]
    const stored = new Map<string, MessageRow>()
    if (clientIds.length > 0) {
      const rows = await tx.select().from(messages).where(and(
        inArray(messages.roomId, roomIds), inArray(messages.senderId, senderIds), inArray(messages.clientId, clientIds)
      ))
      for (const row of rows) stored.set(`${row.roomId}:${row.senderId}:${row.clientId}`, row)
    }

    // Decide each request: refused, a retry of a stored message, a retry of one earlier in this batch, or new.
    const outcomes: Array<SendResult | SendRefused | undefined> = []
    const fresh: number[] = []
    const firstInBatch = new Map<string, number>()
    const perRoom = new Map<number, number>()
    requests.forEach((request, i) => {
      if (!memberKeys.has(`${request.roomId}:${request.sender.id}`)) {
        outcomes[i] = new SendRefused('not_member')
        return
      }
      if (request.clientId !== null) {
        const key = idempotencyKey(request)
        const row = stored.get(key)
        if (row !== undefined) {
          outcomes[i] = { message: toMessage(row, request.roomName, request.sender), created: false }
          return
        }
        if (firstInBatch.has(key)) return // filled in from the first once it has a seq
        firstInBatch.set(key, i)
      }
      fresh.push(i)
      perRoom.set(request.roomId, (perRoom.get(request.roomId) ?? 0) + 1)
    })

    if (fresh.length > 0) {
      const counts = [...perRoom].sort(([a], [b]) => a - b)
      const increment = sql.join([
        sql`case ${rooms.id}`,
        ...counts.map(([id, n]) => sql`when ${id}::int then ${n}::int`),
        sql`end`
      ], sql` `)
      const updated = await tx.update(rooms).set({ lastSeq: sql`${rooms.lastSeq} + ${increment}` })
        .where(inArray(rooms.id, counts.map(([id]) => id)))
        .returning({ id: rooms.id, lastSeq: rooms.lastSeq })
      // The next seq to hand out in each room; a room that is gone has none.
      const nextSeq = new Map(updated.map((row) => [row.id, row.lastSeq - perRoom.get(row.id)! + 1]))

      const values: Array<typeof messages.$inferInsert> = []
      const indexBySeq = new Map<string, number>()
      for (const i of fresh) {
        const request = requests[i]!
        const seq = nextSeq.get(request.roomId)
        if (seq === undefined) {
          outcomes[i] = new SendRefused('room_gone')
          continue
        }
        nextSeq.set(request.roomId, seq + 1)
        indexBySeq.set(`${request.roomId}:${seq}`, i)
        values.push({
          roomId: request.roomId,
          seq,
          senderId: request.sender.id,
          message: request.message,
          messageType: request.messageType,
          clientId: request.clientId
        })
      }
      if (values.length > 0) {
        // RETURNING order is not promised to follow VALUES: match rows back by (room, seq).
        for (const row of await tx.insert(messages).values(values).returning()) {
          const i = indexBySeq.get(`${row.roomId}:${row.seq}`)!
          outcomes[i] = { message: toMessage(row, requests[i]!.roomName, requests[i]!.sender), created: true }
        }
      }
    }

    // Repeats of a client_id within the batch get the first one's message.
    return requests.map((request, i) => {
      const outcome = outcomes[i]
      if (outcome !== undefined) return outcome
      const first = outcomes[firstInBatch.get(idempotencyKey(request))!]!
      return first instanceof Error ? first : { message: first.message, created: false }
    })
  }
}
