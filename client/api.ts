import { ApiError } from './errors.js'
import type {
  Changes, ChatRoom, Member, Message, MessagesPage, RoomsPage, TokenResponse, User
} from './types.js'

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

export interface ApiOptions {
  /** The server's origin, `http://localhost:8000`; `''` in a page served by the server itself. */
  baseUrl: string
  token?: string | undefined
  /** Another fetch (tests, React Native); the global one by default. */
  fetch?: Fetch
  /** Per request; 15 s by default. */
  timeoutMs?: number
}

export interface PageOptions { limit?: number, cursor?: string | undefined }
export interface SendOptions { message_type?: 'text' | 'image' | 'file', client_id?: string, reply_to?: number | null }

const room = (name: string) => `/api/chat/groups/${encodeURIComponent(name)}`
const message = (name: string, id: number) => `${room(name)}/messages/${id}`

/** The cursor of a page link (`next` / `previous`), so it can be followed through this client's own base URL. */
export function cursorOf (link: string | null): string | undefined {
  if (link === null) return undefined
  return new URL(link, 'http://x').searchParams.get('cursor') ?? undefined
}

function query (params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

/** Typed calls for every REST route of the contract (docs/api.md; read, direct and search per 0.2). */
export class ChatApi {
  readonly baseUrl: string
  token: string | undefined
  private readonly fetch: Fetch
  private readonly timeoutMs: number

  constructor (options: ApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '')
    this.token = options.token
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.timeoutMs = options.timeoutMs ?? 15_000
  }

  /** One JSON request; a non-2xx answer throws an ApiError, a network failure one with status 0. */
  async request<T> (method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
    const headers: Record<string, string> = {}
    if (this.token !== undefined) headers.authorization = `Token ${this.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (error) {
      throw new ApiError(0, { detail: `Could not reach the server: ${(error as Error).message}`, code: 'network_error' })
    }
    const text = await response.text()
    let parsed: unknown = null
    try { parsed = text === '' ? null : JSON.parse(text) } catch { parsed = null }
    if (!response.ok) throw new ApiError(response.status, parsed as ApiError | null, response.headers.get('retry-after'))
    return { status: response.status, body: parsed as T }
  }

  private async get<T> (path: string): Promise<T> { return (await this.request<T>('GET', path)).body }
  private async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    return (await this.request<T>(method, path, body)).body
  }

  // Auth
  register (body: { username: string, password: string, first_name?: string, last_name?: string, email?: string }) {
    return this.call<TokenResponse>('POST', '/api/auth/register/', body)
  }

  login (body: { username: string, password: string }) { return this.call<TokenResponse>('POST', '/api/auth/login/', body) }
  async logout (): Promise<void> { await this.call('POST', '/api/auth/logout/') }
  me () { return this.get<User>('/api/auth/me/') }

  // Rooms
  rooms () { return this.get<ChatRoom[]>('/api/chat/groups/') }
  createRoom (body: { name: string, description?: string, room_avatar?: string | null, is_private?: boolean }) {
    return this.call<ChatRoom>('POST', '/api/chat/groups/', body)
  }

  room (name: string) { return this.get<ChatRoom>(`${room(name)}/`) }
  updateRoom (name: string, body: { description?: string, room_avatar?: string | null, is_private?: boolean }) {
    return this.call<ChatRoom>('PATCH', `${room(name)}/`, body)
  }

  async deleteRoom (name: string): Promise<void> { await this.call('DELETE', `${room(name)}/`) }
  members (name: string) { return this.get<Member[]>(`${room(name)}/members/`) }
  addMember (name: string, username: string) { return this.call<User>('POST', `${room(name)}/members/`, { username }) }
  async removeMember (name: string, username: string): Promise<void> {
    await this.call('DELETE', `${room(name)}/members/${encodeURIComponent(username)}/`)
  }

  join (name: string) { return this.call<ChatRoom>('POST', `${room(name)}/join/`) }
  async leave (name: string): Promise<void> { await this.call('POST', `${room(name)}/leave/`) }
  allGroups (options: PageOptions & { search?: string } = {}) {
    return this.get<RoomsPage>(`/api/chat/all-groups/${query({ search: options.search, limit: options.limit, cursor: options.cursor })}`)
  }

  // Messages
  /** A page of history, newest first; pass `cursorOf(page.next)` as `cursor` for older ones. */
  messages (name: string, options: PageOptions = {}) {
    return this.get<MessagesPage>(`${room(name)}/messages/${query({ limit: options.limit, cursor: options.cursor })}`)
  }

  sendMessage (name: string, text: string, options: SendOptions = {}) {
    return this.call<Message>('POST', `${room(name)}/messages/`, { message: text, ...options })
  }

  message (name: string, id: number) { return this.get<Message>(`${message(name, id)}/`) }
  editMessage (name: string, id: number, text: string) { return this.call<Message>('PATCH', `${message(name, id)}/`, { message: text }) }
  async deleteMessage (name: string, id: number): Promise<void> { await this.call('DELETE', `${message(name, id)}/`) }
  react (name: string, id: number, emoji: string) {
    return this.call<Message>('PUT', `${message(name, id)}/reactions/${encodeURIComponent(emoji)}/`)
  }

  unreact (name: string, id: number, emoji: string) {
    return this.call<Message>('DELETE', `${message(name, id)}/reactions/${encodeURIComponent(emoji)}/`)
  }

  changes (name: string, options: { since?: number, limit?: number } = {}) {
    return this.get<Changes>(`${room(name)}/changes/${query({ since: options.since, limit: options.limit })}`)
  }

  /** Every change after `since`, following `has_more`: the room's state as the feed gives it, and its rev. */
  async allChanges (name: string, since = 0): Promise<{ results: Message[], rev: number }> {
    const results: Message[] = []
    let rev = since
    for (;;) {
      const page = await this.changes(name, { since: rev, limit: 500 })
      results.push(...page.results)
      rev = page.rev
      if (!page.has_more) return { results, rev }
    }
  }

  // 0.2: read state, direct rooms, search
  async markRead (name: string, seq: number): Promise<void> { await this.call('POST', `${room(name)}/read/`, { seq }) }
  /** The direct room with `username`; `created` is true the first time. */
  async direct (username: string): Promise<{ room: ChatRoom, created: boolean }> {
    const { status, body } = await this.request<ChatRoom>('POST', '/api/chat/direct/', { username })
    return { room: body, created: status === 201 }
  }

  search (q: string, options: PageOptions & { room?: string } = {}) {
    return this.get<MessagesPage>(`/api/chat/search/${query({ q, room: options.room, limit: options.limit, cursor: options.cursor })}`)
  }
}
