import { once } from 'node:events'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { corkForTick, sendText, WireFrame } from '../../src/chat/wire.js'

t.test('prebuilt frames arrive as text frames of every length class, in order, corked or not', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  // 7-bit, 16-bit and 64-bit payload lengths, at their edges; then the same frames again in one corked tick.
  const sizes = [0, 1, 125, 126, 65535, 65536, 70000]
  server.once('connection', (socket) => {
    for (const size of sizes) sendText(socket, new WireFrame(String.fromCharCode(size % 26 + 97).repeat(size)))
    for (const size of sizes) {
      corkForTick(socket)
      sendText(socket, new WireFrame(String.fromCharCode(size % 26 + 97).repeat(size)))
    }
    // 70 characters, 140 bytes: the header counts bytes.
    sendText(socket, new WireFrame('é'.repeat(70)))
    sendText(socket, 'a string')
  })

  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  t.teardown(() => client.terminate())
  const received: Array<{ text: string, binary: boolean }> = []
  const done = new Promise<void>((resolve, reject) => {
    client.on('message', (data: Buffer, binary) => {
      received.push({ text: data.toString(), binary })
      if (received.length === 2 * sizes.length + 2) resolve()
    })
    client.on('close', () => reject(new Error('closed')))
    setTimeout(() => reject(new Error(`timed out with ${received.length} frames`)), 10_000).unref()
  })
  await done
  const expected = [...sizes, ...sizes].map((size) => String.fromCharCode(size % 26 + 97).repeat(size))
  t.same(received.map((r) => r.text), [...expected, 'é'.repeat(70), 'a string'], 'every payload, in order')
  t.ok(received.every((r) => !r.binary), 'all text frames')
})
