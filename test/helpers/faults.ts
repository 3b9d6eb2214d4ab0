import type { Test } from 'tap'
import { api, createRoom, join, register, type SocketClient } from './client.js'
import { spawnInstance } from './cluster.js'

// Shared by the fault tests: faults are injected on throwaway services only, never the machine's own.

/** The seqs a client saw, across its sockets, must be 1..count once each, in order. */
export function assertComplete (t: Test, seqs: number[], count: number, what: string) {
  t.same(seqs, Array.from({ length: count }, (_, k) => k + 1), `${what}: 1..${count} once each, in order`)
}

/** All stored messages of a room, oldest first, read through the REST API by following `next`. */
export async function history (base: string, token: string, room: string): Promise<any[]> {
  const all: any[] = []
  let url: string | null = `${base}/api/chat/groups/${room}/messages/?limit=100`
  while (url !== null) {
    const page: { status: number, body: any } = await api(url, 'GET', url, { token })
    if (page.status !== 200) throw new Error(`history: ${page.status}`)
    all.push(...page.body.results)
    url = page.body.next
  }
  return all.reverse()
}

/**
 * Sends `count` messages with client ids `<tag>-<k>`, `window` unacked at a time, until each is acked or refused
 * (or the socket closes); records acks and refusals. Consumes the socket's frames.
 */
export async function pump (socket: SocketClient, tag: string, count: number, window: number) {
  const acked = new Set<string>()
  const errors: string[] = []
  let next = 0
  const settled = () => acked.size + errors.length
  while (settled() < count && socket.closeCode === undefined) {
    while (next < count && next - settled() < window) socket.send({ message: `${tag} ${next}`, client_id: `${tag}-${next++}` })
    const progressed = await socket.until(() => {
      const before = settled()
      for (const frame of socket.frames.splice(0)) {
        if (frame.type === 'message' && frame.client_id?.startsWith(`${tag}-`)) acked.add(frame.client_id)
        if (frame.type === 'error') errors.push(frame.client_id)
      }
      return settled() > before || socket.closeCode !== undefined
    }, 30_000, 'acks').then(() => true, () => false)
    if (!progressed) break
  }
  return { acked, errors, sent: next }
}

export async function setup (t: Test, env: Record<string, string>, instances = 2) {
  const nodes = []
  for (let i = 0; i < instances; i++) nodes.push(await spawnInstance(t, env))
  const owner = await register(nodes[0]!.url)
  const sender = await register(nodes[0]!.url)
  const room = await createRoom(nodes[0]!.url, owner.token)
  await join(nodes[0]!.url, sender.token, room.name)
  return { nodes, owner, sender, room }
}

/** Keeps the seqs of message frames as they arrive, even after `frames` is read. */
export const seqsOf = (client: SocketClient) => client.messages().map((m) => m.seq as number)
