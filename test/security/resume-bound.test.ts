import t from 'tap'
import { openSocket, roomWith } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

const LIMIT = 65536

t.test('a resuming client that stops reading but answers pings is closed with 4408, its replay bounded', async (t) => {
  const server = await startServer(t, { SOCKET_BUFFER_LIMIT: String(LIMIT), HEARTBEAT_INTERVAL_MS: '300' })
  const { owner, room, members: [reader] } = await roomWith(server.url, 1)
  // About 10 MB of the largest messages: more than the kernel buffers of a loopback connection hold.
  const big = '😀'.repeat(2000)
  const sender = await openSocket(server.wsUrl, room.name, { token: owner.token })
  const total = 600
  // In waves that the sender's own echoes, within the small bound, keep up with.
  for (let sent = 0; sent < total; sent += 8) {
    for (let i = 0; i < 8; i++) sender.send({ message: big })
    await sender.until(() => sender.messages().length >= sent + 8 || sender.closeCode !== undefined, 30_000)
  }
  t.equal(sender.closeCode, undefined, `the sender is served (${sender.closeCode} ${sender.closeReason})`)
  t.equal(sender.messages().length, total)

  const paused = await openSocket(server.wsUrl, room.name, { token: reader!.token, lastSeq: 0 })
  const tcp = (paused.socket as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  tcp.pause()
  // It reads nothing, yet tells the server it is alive (unsolicited pongs), and messages keep coming.
  const pongs = setInterval(() => paused.socket.pong(), 50)
  t.teardown(() => clearInterval(pongs))
  for (let i = 0; i < 8; i++) sender.send({ message: big })

  let mostBuffered = 0
  const deadline = Date.now() + 30_000
  const serverSide = () => server.app.websocketServer.clients
  for (;;) {
    let closing = false
    for (const ws of serverSide()) {
      mostBuffered = Math.max(mostBuffered, ws.bufferedAmount)
      if (ws.readyState === ws.CLOSING || ws.readyState === ws.CLOSED) closing = true
    }
    if (closing) break
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 20)) // polling the server's state, with a deadline
  }
  clearInterval(pongs)
  tcp.resume()
  const closed = await paused.waitClose(10_000)
  t.equal(closed.code, 4408, 'closed as too slow')
  t.ok(paused.messages().length < total, 'it was not sent the whole history')
  // One replay page of the largest frames at most, besides the bound itself.
  t.ok(mostBuffered <= 2 * LIMIT + 16 * 25 * 1024, `the server held ${mostBuffered} bytes for it at most`)
  sender.close()
})
