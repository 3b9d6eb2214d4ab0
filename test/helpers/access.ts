import type { Test } from 'tap'
import type { LookupOutcome } from '../../src/chat/access-cache.js'
import { openSocket } from './client.js'

/** The socket access lookups by outcome, from /metrics. */
export async function lookups (url: string, token?: string): Promise<Record<LookupOutcome, number>> {
  const response = await fetch(`${url}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  const text = await response.text()
  const counts: Record<LookupOutcome, number> = { hit: 0, shared: 0, read: 0, bypass: 0 }
  for (const [, outcome, value] of text.matchAll(/^chat_socket_access_lookups_total\{outcome="(\w+)"\} (\d+)/gm)) {
    counts[outcome as LookupOutcome] = Number(value)
  }
  return counts
}

/** Opens a socket, proves it is served (a pong), and closes it: the upgrade and the join have both been read. */
export async function upgradeOnce (wsUrl: string, room: string, token: string): Promise<void> {
  const socket = await openSocket(wsUrl, room, { token })
  socket.send({ type: 'ping' })
  await socket.next((f) => f.type === 'pong')
  socket.close()
  await socket.waitClose()
}

export async function refused (t: Test, wsUrl: string, room: string, token: string, status: number, what: string) {
  const error = await openSocket(wsUrl, room, { token }).then(
    (socket) => { socket.close(); return { status: 101 } },
    (reason: { status?: number }) => reason)
  t.equal(error.status, status, what)
}
