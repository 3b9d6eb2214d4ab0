import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Static } from '@sinclair/typebox'
import { PingFrame, ReadFrame, SendFrame, TypingFrame, type SocketErrorCodeValue } from '../schemas/frames.js'
import type { Message } from '../schemas/messages.js'

const MAX_MESSAGE_LENGTH = 4000

const checkers = {
  message: TypeCompiler.Compile(SendFrame),
  typing: TypeCompiler.Compile(TypingFrame),
  read: TypeCompiler.Compile(ReadFrame),
  ping: TypeCompiler.Compile(PingFrame)
}

export type IncomingFrame =
  | { type: 'message', message: string, messageType: 'text' | 'image' | 'file', clientId: string | null }
  | { type: 'typing' }
  | { type: 'read', seq: number }
  | { type: 'ping' }

export interface FrameError { code: SocketErrorCodeValue, detail: string, clientId?: string }

const isUrl = (value: string) => {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

/** Parses and checks one text frame; an error says what to send back, and nothing is stored. */
export function parseFrame (text: string): IncomingFrame | FrameError {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { code: 'invalid_json', detail: 'The frame is not valid JSON.' }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { code: 'validation_error', detail: 'The frame must be a JSON object.' }
  }
  const type = (data as { type?: unknown }).type ?? 'message'
  if (typeof type !== 'string' || !Object.hasOwn(checkers, type)) {
    return { code: 'validation_error', detail: '/type: must be one of message, typing, read, ping' }
  }
  const checker = checkers[type as keyof typeof checkers]
  const clientId = typeof (data as { client_id?: unknown }).client_id === 'string'
    ? (data as { client_id: string }).client_id
    : undefined
  if (!checker.Check(data)) {
    const error = checker.Errors(data).First()!
    return withClientId({ code: 'validation_error', detail: `${error.path || '/'}: ${error.message}` }, clientId)
  }
  if (type !== 'message') return data as IncomingFrame
  const send = data as Static<typeof SendFrame>
  // PostgreSQL text cannot hold NUL: one stored in a group-commit batch would fail every send in that batch.
  const nul = send.message.includes('\u0000') ? 'message' : send.client_id?.includes('\u0000') === true ? 'client_id' : undefined
  if (nul !== undefined) return withClientId({ code: 'validation_error', detail: `/${nul}: must not contain NUL characters` }, clientId)
  // A lone surrogate (a `\udfff` escape in the JSON) cannot be stored: it becomes U+FFFD, as UTF-8 would have it.
  const message = send.message.toWellFormed().trim()
  const length = [...message].length
  if (length < 1 || length > MAX_MESSAGE_LENGTH) {
    return withClientId({
      code: 'validation_error',
      detail: `/message: must be 1 to ${MAX_MESSAGE_LENGTH} characters after trimming`
    }, clientId)
  }
  const messageType = send.message_type ?? 'text'
  if (messageType !== 'text' && !isUrl(message)) {
    return withClientId({ code: 'validation_error', detail: `/message: an ${messageType} message must be its http(s) URL` }, clientId)
  }
  return { type: 'message', message, messageType, clientId: send.client_id?.toWellFormed() ?? null }
}

const withClientId = (error: FrameError, clientId: string | undefined): FrameError =>
  clientId === undefined ? error : { ...error, clientId }

export const isFrameError = (value: IncomingFrame | FrameError): value is FrameError => 'code' in value

/** A stored message as a socket frame: the same text for a live broadcast, a replay and a retry's answer. */
export const messageFrame = (message: Message): string => JSON.stringify({ type: 'message', ...message })

export const errorFrame = ({ code, detail, clientId }: FrameError): string =>
  JSON.stringify(clientId === undefined ? { type: 'error', code, detail } : { type: 'error', code, detail, client_id: clientId })
