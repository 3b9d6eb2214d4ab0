import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Opaque, tamper-proof pagination cursors: base64url JSON plus an HMAC over it and the scope it was issued for
 * (a room's history, the room list), so a cursor is valid only where the server handed it out.
 */
export interface Cursor<K> {
  /** `n`: the page after `key` (older messages, later names); `p`: the page before it. */
  direction: 'n' | 'p'
  key: K
}

export interface CursorCodec {
  encode: <K>(scope: string, cursor: Cursor<K>) => string
  /** The cursor, or undefined when it is malformed, forged or from another scope. */
  decode: <K>(scope: string, value: string) => Cursor<K> | undefined
}

export function createCursorCodec (secret: string): CursorCodec {
  const sign = (scope: string, body: string) =>
    createHmac('sha256', secret).update(scope).update('\0').update(body).digest().subarray(0, 16)

  return {
    encode (scope, cursor) {
      const body = Buffer.from(JSON.stringify([cursor.direction, cursor.key])).toString('base64url')
      return `${body}.${sign(scope, body).toString('base64url')}`
    },
    decode (scope, value) {
      const [body, signature, extra] = value.split('.')
      if (body === undefined || signature === undefined || extra !== undefined) return undefined
      // Compared as text: decoding ignores a base64url string's spare low bits, so two spellings would pass.
      const given = Buffer.from(signature)
      const expected = Buffer.from(sign(scope, body).toString('base64url'))
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
      try {
        const [direction, key] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [unknown, unknown]
        if (direction !== 'n' && direction !== 'p') return undefined
        return { direction, key: key as never }
      } catch {
        return undefined
      }
    }
  }
}
