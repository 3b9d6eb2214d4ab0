import t from 'tap'
import { api, openSocket } from '../helpers/client.js'
import { startPostgres, waitUntil } from '../helpers/cluster.js'
import { history, pump, setup } from '../helpers/faults.js'

t.test('PostgreSQL stops mid-stream: sends get `unavailable`, nothing is falsely acked, and it recovers by itself', async (t) => {
  const pg = await startPostgres(t)
  const { nodes: [a], owner, sender, room } = await setup(t, { DATABASE_URL: pg.url }, 1)
  const socket = await openSocket(a!.wsUrl, room.name, { token: sender.token })
  const before = await pump(socket, 'p1', 50, 8)
  t.equal(before.acked.size, 50)
  await pg.stop()
  const during = await pump(socket, 'p2', 20, 4)
  t.ok(during.errors.length > 0, 'sends during the outage get error frames')
  t.equal(socket.closeCode, undefined, 'the socket stays open')
  const rest = await api(a!.url, 'GET', '/api/chat/groups/', { token: owner.token })
  t.equal(rest.status, 503)
  t.equal(rest.body.code, 'unavailable')
  t.equal((await api(a!.url, 'GET', '/readyz')).status, 503)
  await pg.start()
  await waitUntil('readyz ok', async () => (await api(a!.url, 'GET', '/readyz')).status === 200, 30_000)
  const after = await pump(socket, 'p3', 30, 8)
  t.equal(after.acked.size, 30, 'sending works again without a restart')
  const stored = new Set((await history(a!.url, owner.token, room.name)).map((m) => m.client_id))
  for (const id of [...before.acked, ...during.acked, ...after.acked]) t.ok(stored.has(id), `acked ${id} is stored`)
  socket.close()
})
