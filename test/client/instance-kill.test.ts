import t from 'tap'
import { ChatApi } from '../../client/index.js'
import { api } from '../helpers/client.js'
import { clusterEnv } from '../helpers/cluster.js'
import { setup } from '../helpers/faults.js'
import { reaches, session, statuses, until } from '../helpers/chat-client.js'

t.test('kill -9 the instance a session streams from: it resumes on another and ends equal to changes/?since=0', async (t) => {
  const { env } = await clusterEnv(t)
  const { nodes: [a, b], owner, sender, room } = await setup(t, env)
  // The session tries the origins in turn: A first, B once A is gone. Its REST calls go to B.
  const chat = session(t, b!.url, owner, room.name, { origins: [a!.url, b!.url], history: false })
  const seen = statuses(chat)
  await chat.start()
  await reaches(chat, 'open')
  const other = new ChatApi({ baseUrl: b!.url, token: sender.token })
  // The other member writes, edits and reacts on B the whole time; the session sends its own through A.
  const writing = (async () => {
    for (let k = 0; k < 60; k++) {
      const message = await other.sendMessage(room.name, `other ${k}`)
      if (k % 3 === 0) await other.editMessage(room.name, message.id, `other ${k} (edited)`)
      if (k % 4 === 0) await other.react(room.name, message.id, '👍')
      if (k % 10 === 0) await other.deleteMessage(room.name, message.id)
    }
  })()
  const own = Array.from({ length: 40 }, (_, k) => k)
  const sending = Promise.all(own.map((k) => chat.send(`own ${k}`)))
  await until(chat, '20 messages', () => chat.store.all().length >= 20, 30_000)
  const before = seen.length
  a!.child.kill('SIGKILL')
  const sent = await sending
  await writing
  t.ok(seen.slice(before).some((status) => status.state === 'waiting'), 'the session lost its socket and reconnected')
  t.equal(new Set(sent.map((m) => m.id)).size, own.length, 'every send resolved with a message of its own')
  const feed = await new ChatApi({ baseUrl: b!.url, token: owner.token }).allChanges(room.name)
  await until(chat, `rev ${feed.rev}`, () => chat.store.rev >= feed.rev, 30_000)
  t.equal(chat.store.rev, feed.rev, 'the session is at the room\'s rev')
  const bySeq = [...feed.results].sort((x, y) => x.seq - y.seq)
  t.same(chat.store.all(), bySeq, 'the store equals the server\'s state, message by message')
  const ownStored = bySeq.filter((m) => m.sender.id === owner.user.id)
  t.equal(ownStored.length, own.length, 'each of the session\'s sends stored once')
  const check = await api(b!.url, 'GET', `/api/chat/groups/${room.name}/messages/?limit=1`, { token: owner.token })
  t.equal(check.body.results[0].seq, bySeq.length, 'seqs have no gap')
})
