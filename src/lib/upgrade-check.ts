import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from './http-error.js'

// What `ws` checks before a handshake (RFC 6455 §4.2.1), refused here first so the answer is the JSON error body
// rather than ws's text/html one.
const KEY = /^[+/0-9A-Za-z]{22}==$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const refused = (header: string, message: string) =>
  new HttpError(400, 'validation_error', `Invalid WebSocket handshake: ${message}.`, [{ field: `/headers/${header}`, message }])

/** An onRequest hook for socket routes: a malformed upgrade request gets 400 `validation_error`. */
export async function checkUpgrade (request: FastifyRequest, reply: FastifyReply) {
  const { headers } = request
  if (headers.upgrade === undefined) return
  if (headers.upgrade.toLowerCase() !== 'websocket') throw refused('upgrade', 'must be websocket')
  if (!KEY.test(headers['sec-websocket-key'] ?? '')) throw refused('sec-websocket-key', 'must be 16 bytes in base64')
  const version = headers['sec-websocket-version']
  if (version !== '13' && version !== '8') {
    reply.header('sec-websocket-version', '13, 8')
    throw refused('sec-websocket-version', 'must be 13 or 8')
  }
  const protocols = headers['sec-websocket-protocol']
  if (protocols !== undefined) {
    const names = protocols.split(',').map((name) => name.trim())
    if (!names.every((name) => TOKEN.test(name)) || new Set(names).size !== names.length) {
      throw refused('sec-websocket-protocol', 'must be a list of distinct tokens')
    }
  }
}
