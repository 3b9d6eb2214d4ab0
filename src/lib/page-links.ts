import type { FastifyRequest } from 'fastify'
import type { Cursor, CursorCodec } from './cursor.js'
import { HttpError } from './http-error.js'
import type { KeysetPage } from './keyset.js'

/** The decoded `cursor` query parameter; 400 `invalid_cursor` for one this server did not issue here. */
export function readCursor<K> (codec: CursorCodec, scope: string, value: string | undefined,
  isKey: (key: unknown) => key is K): Cursor<K> | undefined {
  if (value === undefined) return undefined
  // Any cursor this server issues is short; a long one is garbage, refused before it is decoded.
  const cursor = value.length > 512 ? undefined : codec.decode<unknown>(scope, value)
  if (cursor === undefined || !isKey(cursor.key)) throw new HttpError(400, 'invalid_cursor', 'Invalid cursor.')
  return cursor as Cursor<K>
}

/** `name` and `name:port`, lowercased; undefined for a Host that is not one (userinfo, a path, a bad port). */
function splitHost (host: string): { name: string, port: string } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(host.toLowerCase())
  return match === null ? undefined : { name: match[1]!, port: match[2] ?? '' }
}

/**
 * The origin of absolute links: PUBLIC_URL when set; else the request's Host (X-Forwarded-Host behind a trusted
 * proxy) when ALLOWED_HOSTS lists it, so a forged Host never ends up in a link; else the address the request came to.
 */
function linkOrigin (request: FastifyRequest): string {
  const { PUBLIC_URL: publicUrl, ALLOWED_HOSTS: allowedHosts } = request.server.config
  if (publicUrl !== undefined) return publicUrl.replace(/\/$/, '')
  const protocol = request.protocol === 'https' ? 'https' : 'http'
  const host = splitHost(request.host)
  if (host !== undefined) {
    const allowed = allowedHosts.split(',').map((entry) => entry.trim().toLowerCase())
    if (allowed.includes(host.name) || (host.port !== '' && allowed.includes(`${host.name}:${host.port}`))) {
      return `${protocol}://${host.name}${host.port === '' ? '' : `:${host.port}`}`
    }
  }
  const { localAddress = '127.0.0.1', localPort } = request.socket
  const address = localAddress.replace(/^::ffff:/, '')
  return `${protocol}://${address.includes(':') ? `[${address}]` : address}:${localPort}`
}

/** A DRF page: the results, and absolute `next`/`previous` URLs that keep the request's other parameters. */
export function toPage<T, K, R> (request: FastifyRequest, codec: CursorCodec, scope: string,
  page: KeysetPage<T, K>, map: (row: T) => R) {
  const link = (cursor: Cursor<K> | null) => {
    if (cursor === null) return null
    const url = new URL(request.url, linkOrigin(request))
    url.searchParams.set('cursor', codec.encode(scope, cursor))
    return url.toString()
  }
  return { next: link(page.next), previous: link(page.previous), results: page.results.map(map) }
}

export const isSeq = (key: unknown): key is number => Number.isSafeInteger(key) && (key as number) >= 0
export const isName = (key: unknown): key is string => typeof key === 'string'
