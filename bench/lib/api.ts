import { Agent, request as httpRequest } from 'node:http'
import { randomBytes } from 'node:crypto'

/**
 * Keep-alive: setup makes hundreds of calls, and history timings must not include a TCP handshake each. A mode
 * with more requests in flight than this passes an agent of its own.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 16 })

export interface Reply<T> { status: number, body: T }

/** One JSON call to 127.0.0.1, bounded by `timeoutMs`. */
export function call<T = any> (base: string, method: string, path: string,
  options: { token?: string, body?: unknown, timeoutMs?: number, agent?: Agent } = {}): Promise<Reply<T>> {
  const url = new URL(path, base)
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Token ${options.token}`
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: options.agent ?? agent, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown = text
        try { body = text === '' ? null : JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body: body as T })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** A GET that must answer 200, with how long it took. */
export async function timedGet<T> (base: string, token: string, path: string): Promise<{ body: T, ms: number }> {
  const started = performance.now()
  const reply = await call<T>(base, 'GET', path, { token })
  if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return { body: reply.body, ms: performance.now() - started }
}

async function expect<T> (reply: Promise<Reply<T>>, status: number, what: string): Promise<T> {
  const { status: got, body } = await reply
  if (got !== status) throw new Error(`${what}: expected ${status}, got ${got} ${JSON.stringify(body)}`)
  return body
}

export interface Account { token: string, user: { id: number, username: string } }
export interface RoomInfo { id: number, name: string }

export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`

export const register = (base: string, username: string) =>
  expect<Account>(call(base, 'POST', '/api/auth/register/', { body: { username, password: 'bench-password' } }), 201,
    `register ${username}`)

export const createRoom = (base: string, token: string, name: string) =>
  expect<RoomInfo>(call(base, 'POST', '/api/chat/groups/', { token, body: { name } }), 201, `create room ${name}`)

export const joinRoom = (base: string, token: string, name: string) =>
  expect(call(base, 'POST', `/api/chat/groups/${name}/join/`, { token }), 200, `join ${name}`)

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R> (items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Polls `GET /healthz` until it answers 200; bounded by `timeoutMs`. */
export async function waitHealthy (base: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if ((await call(base, 'GET', '/healthz', { timeoutMs: 2000 })).status === 200) return
    } catch {}
    if (!alive()) throw new Error(`${base}: the server exited before it was ready`)
    if (Date.now() > deadline) throw new Error(`${base}: not healthy after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
