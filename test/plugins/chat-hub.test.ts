import type { IncomingMessage } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { createRoom, openSocket, register } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

t.test('an open socket keeps neither its upgrade request nor fastify\'s request and reply (memory per socket)', async (t) => {
  const server = await startServer(t)
  const alice = await register(server.url)
  const room = await createRoom(server.url, alice.token)
  // The upgrade's IncomingMessage: the fake ServerResponse, fastify's Request and Reply all point at it.
  let upgrade: WeakRef<IncomingMessage> | undefined
  server.app.websocketServer.once('connection', (_socket: unknown, request: IncomingMessage) => { upgrade = new WeakRef(request) })
  const socket = await openSocket(server.wsUrl, room.name, { token: alice.token })
  t.teardown(() => socket.close())
  socket.send({ type: 'ping' })
  await socket.next((frame) => frame.type === 'pong')
  t.ok(upgrade, 'the upgrade was seen')
  // A WeakRef holds its target until the current job ends.
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  t.equal(upgrade?.deref(), undefined, 'the upgrade request was collected while the socket is open')
  socket.send({ type: 'ping' })
  await socket.next((frame) => frame.type === 'pong', 1)
  t.pass('the socket still answers')
})
