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

/** A DRF page: the results, and absolute `next`/`previous` URLs that keep the request's other parameters. */
export function toPage<T, K, R> (request: FastifyRequest, codec: CursorCodec, scope: string,
  page: KeysetPage<T, K>, map: (row: T) => R) {
  const link = (cursor: Cursor<K> | null) => {
    if (cursor === null) return null
    const url = new URL(request.url, `${request.protocol}://${request.host}`)
    url.searchParams.set('cursor', codec.encode(scope, cursor))
    return url.toString()
  }
  return { next: link(page.next), previous: link(page.previous), results: page.results.map(map) }
}

export const isSeq = (key: unknown): key is number => Number.isSafeInteger(key) && (key as number) >= 0
export const isName = (key: unknown): key is string => typeof key === 'string'
