import { rssKiB } from '../lib/proc.js'
import { closeSwarm, openSwarm, setUp } from '../lib/swarm.js'

export interface IdleOptions { urls: string[], sockets: number, users: number, serverPids: number[], settleS: number }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * N idle member sockets in one room, and the server's memory per socket: the growth of its resident set (VmRSS of
 * the server processes, summed) while the sockets are opened and have settled, over their number. The first fifth
 * are opened before the first reading, so that the young generation of the heap and the pools that grow to
 * their working size early count as fixed cost, not as per-socket memory.
 */
export async function runIdle (options: IdleOptions) {
  if (options.serverPids.length === 0) throw new Error('idle mode needs --server-pid to read the server memory')
  const topology = { urls: options.urls, rooms: 1, members: options.sockets, users: options.users }
  const setup = await setUp(topology, 'idle')
  const rss = () => options.serverPids.reduce((sum, pid) => sum + rssKiB(pid), 0)
  const warm = Math.floor(options.sockets / 5)
  const sockets = await openSwarm(topology, setup, () => {}, { from: 0, to: warm })
  await sleep(options.settleS * 1000)
  const before = rss()
  const started = performance.now()
  sockets.push(...await openSwarm(topology, setup, () => {}, { from: warm, to: options.sockets }))
  const openS = (performance.now() - started) / 1000
  await sleep(options.settleS * 1000)
  const after = rss()
  const closed = sockets.filter((s) => s.closedEarly).length
  closeSwarm(sockets)
  return {
    mode: 'idle',
    sockets: options.sockets,
    measured: options.sockets - warm,
    users: setup.accounts.length,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    perSocketKiB: Math.round(((after - before) / (options.sockets - warm)) * 100) / 100,
    openPerSec: Math.round((options.sockets - warm) / openS),
    socketsClosed: closed
  }
}
