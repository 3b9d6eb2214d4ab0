import t from 'tap'
import { api, createRoom, register } from '../helpers/client.js'
import { openRoom, session, until } from '../helpers/chat-client.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { memoryStorage } from '../../client/index.js'

const serverSockets = (server: TestServer) => [...server.app.websocketServer.clients]

t.test('a send whose acknowledgement is lost with the socket is resent after the reconnect and stored once', async (t) => {
  const { server, owner, room, chat, seen } = await openRoom(t)
  // The server drops the socket as soon as the send frame reaches it: stored, but its copy never comes back.
  const [socket] = serverSockets(server)
  socket!.once('message', () => socket!.terminate())
  const stored = await chat.send('hello after a drop')
  t.equal(stored.message, 'hello after a drop')
  t.ok(seen.filter((status) => status.state === 'open').length >= 2, 'it reconnected to get it')
  const feed = await api(server.url, 'GET', `/api/chat/groups/${room.name}/changes/`, { token: owner.token })
  t.same(feed.body.results.map((m: any) => m.client_id), [stored.client_id], 'the server stored it once')
  await until(chat, 'the store to hold it', () => chat.store.get(stored.id))
  t.same(chat.store.all().map((m) => m.id), [stored.id], 'the store holds it once')
  t.same(chat.outbox.pending(), [], 'nothing left to send')
})

t.test('sends made while the socket is down go out after the reconnect, each stored once, in order', async (t) => {
  const { server, owner, room, chat } = await openRoom(t)
  const first = await chat.send('first')
  for (const socket of serverSockets(server)) socket.terminate()
  const texts = ['one', 'two', 'three', 'four', 'five']
  const sent = await Promise.all(texts.map((text) => chat.send(text)))
  t.same(sent.map((m) => m.message), texts, 'every send resolved with its own message')
  t.same(sent.map((m) => m.seq), [2, 3, 4, 5, 6], 'in the order they were made')
  const feed = await api(server.url, 'GET', `/api/chat/groups/${room.name}/changes/`, { token: owner.token })
  t.equal(feed.body.results.length, 6, 'six messages stored')
  await until(chat, 'six messages', () => chat.store.all().length === 6)
  t.same(chat.store.all().map((m) => m.id), [first, ...sent].map((m) => m.id))
})

t.test('an outbox kept in storage survives a reload: a new session sends what the old one could not', async (t) => {
  const server = await startServer(t)
  const owner = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const storage = memoryStorage()
  const before = session(t, server.url, owner, room.name, { storage })
  // Never started: the page was closed before its socket opened.
  void before.send('written before the reload').catch(() => {})
  t.equal(before.outbox.pending().length, 1)
  before.close()
  const after = session(t, server.url, owner, room.name, { storage })
  t.equal(after.outbox.pending()[0]?.message, 'written before the reload', 'the new session has it')
  await after.start()
  const message = await until(after, 'the message', () => after.store.all()[0])
  t.equal(message.message, 'written before the reload')
  await until(after, 'an empty outbox', () => after.outbox.pending().length === 0)
  t.equal(storage.get(`outbox:${owner.user.id}:${room.name}`), null, 'storage cleared')
})
