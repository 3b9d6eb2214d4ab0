import t from 'tap'
import { api } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

t.test('healthz and readyz answer ok without a token', async (t) => {
  const server = await startServer(t)
  const health = await api(server.url, 'GET', '/healthz')
  t.equal(health.status, 200)
  t.same(health.body, { status: 'ok' })
  const ready = await api(server.url, 'GET', '/readyz/')
  t.equal(ready.status, 200)
  t.same(ready.body, { status: 'ok' })
})
