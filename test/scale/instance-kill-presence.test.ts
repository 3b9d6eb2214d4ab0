import t from 'tap'
import { openSocket } from '../helpers/client.js'
import { clusterEnv } from '../helpers/cluster.js'
import { setup } from '../helpers/faults.js'

t.test('presence: an instance killed without goodbye has its users marked offline by the others', async (t) => {
  const { env } = await clusterEnv(t, { INSTANCE_HEARTBEAT_MS: '200' })
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  const watcher = await openSocket(b!.wsUrl, room.name, { token: owner.token })
  // Its frames wait for its join: once it has its pong, the room is set up on B and events reach it.
  watcher.send({ type: 'ping' })
  await watcher.next((f) => f.type === 'pong', 0, 10_000)
  await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const isPresence = (online: boolean) => (f: any) => f.type === 'presence' && f.user.id === sender.user.id && f.online === online
  await watcher.next(isPresence(true), 0, 10_000)
  a!.child.kill('SIGKILL')
  await watcher.next(isPresence(false), 0, 10_000)
  t.same(watcher.frames.filter((f) => f.type === 'presence' && f.user.id === sender.user.id).map((f) => f.online), [true, false],
    'online once, then offline once the dead instance is noticed')
  watcher.close()
})
