import t from 'tap'
import { api, createRoom, join, register } from '../helpers/client.js'
import { openRoom, reaches, session, statuses } from '../helpers/chat-client.js'
import { startServer } from '../helpers/server.js'
import { ChatApi, SendError } from '../../client/index.js'

t.test('logout (4401) stops the session for good; a later send is refused', async (t) => {
  const { server, owner, chat, seen } = await openRoom(t)
  await new ChatApi({ baseUrl: server.url, token: owner.token }).logout()
  const stopped = await reaches(chat, 'stopped')
  t.same(stopped, { state: 'stopped', reason: 'logged_out', code: 4401 })
  t.equal(seen.filter((status) => status.state === 'connecting').length, 1, 'no reconnect was tried')
  await t.rejects(chat.send('too late'), SendError)
})

t.test('a refused handshake stops without retrying and says why', async (t) => {
  const server = await startServer(t)
  const owner = await register(server.url)
  const stranger = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const cases = [
    { what: 'a revoked token', account: { ...owner, token: 'f'.repeat(40) }, name: room.name, reason: 'logged_out' },
    { what: 'a non-member', account: stranger, name: room.name, reason: 'removed' },
    { what: 'no such room', account: owner, name: 'never_made', reason: 'room_deleted' }
  ]
  for (const { what, account, name, reason } of cases) {
    const chat = session(t, server.url, account, name, { history: false })
    const seen = statuses(chat)
    await chat.start()
    const stopped = await reaches(chat, 'stopped')
    t.equal(stopped.state === 'stopped' && stopped.reason, reason, what)
    t.equal(seen.filter((status) => status.state === 'connecting').length, 1, `${what}: tried once`)
  }
})

t.test('removal (4403) and deletion (4404) stop the session for that room', async (t) => {
  const server = await startServer(t)
  const owner = await register(server.url)
  const member = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  await join(server.url, member.token, room.name)
  const removed = session(t, server.url, member, room.name)
  const deleted = session(t, server.url, owner, room.name)
  await Promise.all([removed.start(), deleted.start()])
  await Promise.all([reaches(removed, 'open'), reaches(deleted, 'open')])
  await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/members/${member.user.username}/`, { token: owner.token })
  t.same(await reaches(removed, 'stopped'), { state: 'stopped', reason: 'removed', code: 4403 })
  await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/`, { token: owner.token })
  t.same(await reaches(deleted, 'stopped'), { state: 'stopped', reason: 'room_deleted', code: 4404 })
})
