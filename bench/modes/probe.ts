import { closeSwarm, openSwarm, setUp, until } from '../lib/swarm.js'

/**
 * Does a message sent on the first instance reach a socket on the second? (With a Redis broker it does; without,
 * each instance only knows its own sockets.)
 */
export async function runProbe (urls: string[]) {
  if (urls.length < 2) throw new Error('probe mode needs two --url values')
  const topology = { urls: urls.slice(0, 2), rooms: 1, members: 2, users: 2 }
  const setup = await setUp(topology, 'probe')
  const sockets = await openSwarm(topology, setup, () => {})
  sockets[0]!.ws.send('{"message":"probe","client_id":"probe"}')
  const crossInstance = await until(() => sockets[1]!.last >= 1, 5000)
  closeSwarm(sockets)
  return { mode: 'probe', crossInstance }
}
