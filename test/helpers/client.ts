import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'

export interface ApiResponse<T = any> { status: number, body: T, headers: Headers }

/** A response body as a client reads it: JSON when it parses, else the text; null when empty. */
export function parseBody (text: string): unknown {
  if (text === '') return null
  try { return JSON.parse(text) } catch { return text }
}

/** A JSON request as a client makes it; `token` goes in `Authorization: Token <t>`. */
export async function api<T = any> (base: string, method: string, path: string,
  options: { token?: string, body?: unknown, headers?: Record<string, string>, raw?: string } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Token ${options.token}`
  let body: string | undefined
  if (options.raw !== undefined) body = options.raw
  else if (options.body !== undefined) body = JSON.stringify(options.body)
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
  const response = await fetch(new URL(path, base), { method, headers, body, signal: AbortSignal.timeout(10_000) })
  return { status: response.status, body: parseBody(await response.text()) as T, headers: response.headers }
}

/** A name no other test uses (users, rooms, client_ids). */
export const uniqueName = (prefix = 'u') => `${prefix}_${randomBytes(5).toString('hex')}`

export interface Account { token: string, user: { id: number, username: string, first_name: string, last_name: string } }

/** Registers a new user with a unique name. */
export async function register (base: string, username = uniqueName('user'), password = 'correct horse'): Promise<Account> {
  const response = await api<Account>(base, 'POST', '/api/auth/register/', { body: { username, password } })
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

/** Creates a room owned by `token`; returns the Room object. */
export async function createRoom (base: string, token: string, fields: Record<string, unknown> = {}) {
  const response = await api(base, 'POST', '/api/chat/groups/', { token, body: { name: uniqueName('room'), ...fields } })
  if (response.status !== 201) throw new Error(`create room failed: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body as { id: number, name: string, is_private: boolean, members_count: number }
}

/** Joins `room` as the user of `token` (a public room). */
export async function join (base: string, token: string, room: string) {
  const response = await api(base, 'POST', `/api/chat/groups/${room}/join/`, { token })
  if (response.status !== 200) throw new Error(`join failed: ${response.status}`)
}

/** A room owned by a new user, with `others` more users who joined it. */
export async function roomWith (base: string, others: number, fields: Record<string, unknown> = {}) {
  const owner = await register(base)
  const room = await createRoom(base, owner.token, fields)
  const members: Account[] = []
  for (let i = 0; i < others; i++) {
    const member = await register(base)
    await join(base, member.token, room.name)
    members.push(member)
  }
  return { owner, room, members }
}

/**
 * A WebSocket client that records every frame, so a test can wait for the frame it expects (with a bound)
 * instead of sleeping.
 */
export class SocketClient {
  readonly frames: any[] = []
  closeCode: number | undefined
  closeReason = ''
  private waiters: Array<() => void> = []
  readonly closed: Promise<{ code: number, reason: string }>

  constructor (readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? data : JSON.parse(data.toString()))
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeCode = code
        this.closeReason = reason.toString()
        this.wake()
        resolve({ code, reason: this.closeReason })
      })
    })
    socket.on('error', () => {})
  }

  private wake () {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }

  /** Waits until `predicate(frames)` holds; rejects after `timeoutMs`. */
  async until<T> (predicate: (frames: any[]) => T | undefined | false, timeoutMs = 5000, what = 'frames'): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const result = predicate(this.frames)
      if (result !== undefined && result !== false) return result
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames).slice(0, 500)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** The first frame after index `from` that matches. */
  next (match: (frame: any) => boolean, from = 0, timeoutMs = 5000): Promise<any> {
    return this.until((frames) => frames.slice(from).find(match), timeoutMs, 'a matching frame')
  }

  messages (): any[] { return this.frames.filter((f) => f.type === 'message') }

  /** Waits until `count` message frames have arrived. */
  async messageCount (count: number, timeoutMs = 10_000): Promise<any[]> {
    return await this.until((frames) => {
      const messages = frames.filter((f) => f.type === 'message')
      return messages.length >= count ? messages : undefined
    }, timeoutMs, `${count} messages`)
  }

  send (frame: unknown) { this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) }

  async waitClose (timeoutMs = 5000): Promise<{ code: number, reason: string }> {
    return await Promise.race([
      this.closed,
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('socket did not close')), timeoutMs).unref())
    ])
  }

  close () { this.socket.close() }
}

/** Opens the room socket; resolves once open, or rejects with the HTTP status of a refused handshake. */
export function openSocket (wsUrl: string, room: string,
  options: { token?: string, lastSeq?: number, lastRev?: number, headers?: Record<string, string>, protocols?: string[], query?: string } = {}
): Promise<SocketClient> {
  const params = new URLSearchParams()
  if (options.token !== undefined) params.set('token', options.token)
  if (options.lastSeq !== undefined) params.set('last_seq', String(options.lastSeq))
  if (options.lastRev !== undefined) params.set('last_rev', String(options.lastRev))
  const query = options.query ?? params.toString()
  const socket = new WebSocket(`${wsUrl}/ws/chat/${room}/${query === '' ? '' : `?${query}`}`, options.protocols,
    { headers: options.headers, handshakeTimeout: 5000 })
  const client = new SocketClient(socket)
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client))
    socket.once('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => {
        const error = new Error(`handshake refused: ${response.statusCode}`) as Error & { status?: number, body?: any }
        error.status = response.statusCode
        try { error.body = JSON.parse(text) } catch { error.body = text }
        reject(error)
      })
    })
    socket.once('error', reject)
  })
}

/** The refusal of a handshake: its status and JSON body. */
export async function refusal (promise: Promise<SocketClient>): Promise<{ status: number, body: any }> {
  try {
    const client = await promise
    client.close()
    throw new Error('the handshake was accepted')
  } catch (error) {
    const { status, body } = error as { status?: number, body?: any }
    if (status === undefined) throw error
    return { status, body }
  }
}
