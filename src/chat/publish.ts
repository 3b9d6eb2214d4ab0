import type { FastifyBaseLogger } from 'fastify'
import type { Broker } from '../broker/types.js'
import type { Committed } from '../db/message-writer.js'
import { messageFrame, updatedFrame } from './protocol.js'

/**
 * The core rule: a message or a change is published only after its transaction has committed, once, in rev
 * order per room, serialized once here, so that every socket on every instance is sent these very bytes. The
 * group-commit writer (src/db/message-writer.ts) calls this before it answers any request of the batch; the hub
 * (src/chat/hub.ts) hands each event to the room's sockets in rev order, and reads what an event lost or
 * overtaken would have carried back from the database.
 */
export function publishCommitted (broker: Broker, log: FastifyBaseLogger) {
  return (committed: Committed[]): void => {
    for (const { roomId, kind, message } of committed) {
      const frame = kind === 'created' ? messageFrame(message) : updatedFrame(message)
      broker.publishRoom(roomId, { type: 'message', rev: message.rev, id: message.id, seq: message.seq, created: kind === 'created', frame })
        .catch((error: unknown) => log.warn({ err: error, room: message.room }, 'publish failed'))
    }
  }
}
