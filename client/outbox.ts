import { Emitter } from './emitter.js'
import type { ChatStorage } from './storage.js'
import type { Message } from './types.js'

export interface PendingSend {
  client_id: string
  message: string
  message_type: 'text' | 'image' | 'file'
  reply_to: number | null
  queued_at: string
}

export class SendError extends Error {
  constructor (readonly code: string, detail: string) {
    super(detail)
    this.name = 'SendError'
  }
}

/** A client_id: 128 random bits. crypto.getRandomValues, unlike randomUUID, exists outside secure contexts too. */
export function newClientId (): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/**
 * Sends not yet acknowledged, in the order they were made, kept in `storage` so that a reload resends them.
 * A send is acknowledged by the server's copy of it (same client_id), live or in a replay; resending one that
 * was stored is safe: the server stores each client_id once.
 */
export class Outbox extends Emitter<{ change: readonly PendingSend[] }> {
  private items: PendingSend[]
  private readonly waiters = new Map<string, { resolve: (message: Message) => void, reject: (error: Error) => void }>()

  constructor (private readonly storage: ChatStorage, private readonly key: string) {
    super()
    this.items = Outbox.load(storage, key)
  }

  private static load (storage: ChatStorage, key: string): PendingSend[] {
    try {
      const parsed: unknown = JSON.parse(storage.get(key) ?? '[]')
      return Array.isArray(parsed) ? parsed as PendingSend[] : []
    } catch {
      return []
    }
  }

  pending (): readonly PendingSend[] { return this.items }

  /** Queues a send; resolves with the stored message once its own copy arrives. */
  add (fields: Omit<PendingSend, 'client_id' | 'queued_at'>): { item: PendingSend, stored: Promise<Message> } {
    const item: PendingSend = { ...fields, client_id: newClientId(), queued_at: new Date().toISOString() }
    const stored = new Promise<Message>((resolve, reject) => { this.waiters.set(item.client_id, { resolve, reject }) })
    this.items = [...this.items, item]
    this.save()
    return { item, stored }
  }

  /** A message arrived: if it is one of ours, it is acknowledged. */
  ack (message: Message): void {
    if (message.client_id === null || !this.items.some((item) => item.client_id === message.client_id)) return
    this.remove(message.client_id)
    this.waiters.get(message.client_id)?.resolve(message)
    this.waiters.delete(message.client_id)
  }

  /** The server refused the send for good (validation): it is dropped and its promise rejected. */
  fail (clientId: string, error: SendError): void {
    if (!this.items.some((item) => item.client_id === clientId)) return
    this.remove(clientId)
    this.waiters.get(clientId)?.reject(error)
    this.waiters.delete(clientId)
  }

  private remove (clientId: string): void {
    this.items = this.items.filter((item) => item.client_id !== clientId)
    this.save()
  }

  private save (): void {
    if (this.items.length === 0) this.storage.remove(this.key)
    else this.storage.set(this.key, JSON.stringify(this.items))
    this.emit('change', this.items)
  }
}
