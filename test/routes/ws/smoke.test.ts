import t from 'tap'
import { createRoom, openSocket, register } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

t.test('the plain 0.1 message frame is stored and broadcast to every socket, the sender included', async (t) => {
  const server = await startServer(t)
  const alice = await register(server.url)
  const room = await createRoom(server.url, alice.token)
  const a = await openSocket(server.wsUrl, room.name, { token: alice.token })
  const b = await openSocket(server.wsUrl, room.name, { token: alice.token })
  a.send('{"message": "Hello, world!", "message_type": "text"}')
  const [fromA] = await a.messageCount(1)
  const [fromB] = await b.messageCount(1)
  t.same(fromA, fromB)
  t.match(fromA, { type: 'message', room: room.name, seq: 1, message: 'Hello, world!', message_type: 'text', client_id: null })
  t.equal(fromA.sender.username, alice.user.username)
  a.close(); b.close()
})
