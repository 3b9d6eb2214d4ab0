import t, { type Test } from 'tap'
import { api, createRoom, join, openSocket, refusal, roomWith, type SocketClient } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

const server = await startServer(t, { MAX_SOCKETS_PER_USER: '3' })
// The races open one socket per room for one member at once: the default limit.
const racing = await startServer(t)

/** An upgrade that either opens or is refused: the socket, or the refusal's status. */
const attempt = (promise: Promise<SocketClient>) =>
  promise.then((socket) => ({ socket, status: 101 }), async () => ({ socket: undefined, status: (await refusal(promise)).status }))

t.test('concurrent handshakes of one user cannot pass MAX_SOCKETS_PER_USER together', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  // Over several rooms, each set up by the first socket that comes: the widest window between check and join.
  const rooms = [room.name]
  for (let i = 0; i < 11; i++) rooms.push((await createRoom(server.url, owner.token)).name)
  const outcomes = await Promise.all(rooms.flatMap((name) => Array.from({ length: 4 }, () =>
    attempt(openSocket(server.wsUrl, name, { token: owner.token })))))
  const open = outcomes.flatMap((o) => o.socket === undefined ? [] : [o.socket])
  t.equal(open.length, 3, 'exactly the limit is open')
  t.same([...new Set(outcomes.filter((o) => o.socket === undefined).map((o) => o.status))], [429], 'the rest get 429')
  // Closing one gives its place back.
  open[0]!.close()
  await open[0]!.waitClose()
  const again = await attempt(openSocket(server.wsUrl, room.name, { token: owner.token }))
  t.equal(again.status, 101, 'a socket opens again once one has closed')
  for (const socket of [...open, again.socket]) socket?.close()
})

/** The handshake and `act` at once: the socket is refused, or it opens and is closed with `code` soon after. */
async function race (t: Test, act: (owner: string, room: string, username: string) => Promise<number>, code: number) {
  const ghosts: string[] = []
  // Many at once, each in a room of its own that the upgrade has to set up: the race is lost now and then.
  const { owner, room, members: [member] } = await roomWith(racing.url, 1)
  const rooms = [room.name]
  for (let i = 1; i < 40; i++) {
    const { name } = await createRoom(racing.url, owner.token)
    await join(racing.url, member!.token, name)
    rooms.push(name)
  }
  await Promise.all(rooms.map(async (name) => {
    const [outcome, status] = await Promise.all([
      attempt(openSocket(racing.wsUrl, name, { token: member!.token })),
      act(owner.token, name, member!.user.username)
    ])
    t.equal(status, 204, 'the change is made')
    if (outcome.socket === undefined) {
      t.ok([403, 404].includes(outcome.status), `refused with ${outcome.status}`)
      return
    }
    const closed = await outcome.socket.waitClose(10_000).catch(() => undefined)
    if (closed?.code !== code) ghosts.push(`${name}: ${JSON.stringify(closed)}`)
  }))
  t.same(ghosts, [], `every socket that opened was closed with ${code}`)
}

t.test('a member removed while their upgrade is in flight keeps no socket in the room', (t) =>
  race(t, async (owner, room, username) =>
    (await api(racing.url, 'DELETE', `/api/chat/groups/${room}/members/${username}/`, { token: owner })).status, 4403))

t.test('a room deleted while an upgrade to it is in flight keeps no socket', (t) =>
  race(t, async (owner, room) => (await api(racing.url, 'DELETE', `/api/chat/groups/${room}/`, { token: owner })).status, 4404))
