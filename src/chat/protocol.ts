import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Static } from '@sinclair/typebox'
import { PingFrame, ReadFrame, SendFrame, TypingFrame, type SocketErrorCodeValue } from '../schemas/frames.js'
import type { Message } from '../schemas/messages.js'
import { normalizeSend } from './message-text.js'

const checkers = {
  message: TypeCompiler.Compile(SendFrame),
  typing: TypeCompiler.Compile(TypingFrame),
  read: TypeCompiler.Compile(ReadFrame),
  ping: TypeCompiler.Compile(PingFrame)
}

export type IncomingFrame =
  | { type: 'message', message: string, messageType: 'text' | 'image' | 'file', clientId: string | null, replyTo: number | null }
  | { type: 'typing' }
  | { type: 'read', seq: number }
  | { type: 'ping' }

export interface FrameError { code: SocketErrorCodeValue, detail: string, clientId?: string }

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
  const send = normalizeSend(data as Static<typeof SendFrame>)
  if ('error' in send) return withClientId({ code: 'validation_error', detail: `${send.field}: ${send.error}` }, clientId)
  return { type: 'message', ...send }
}

const withClientId = (error: FrameError, clientId: string | undefined): FrameError =>
  clientId === undefined ? error : { ...error, clientId }

export const isFrameError = (value: IncomingFrame | FrameError): value is FrameError => 'code' in value

/** A stored message as a socket frame: the same text for a live broadcast, a replay and a retry's answer. */
export const messageFrame = (message: Message): string => JSON.stringify({ type: 'message', ...message })

/** A message's current state after an edit, a deletion or a reaction. */
export const updatedFrame = (message: Message): string => JSON.stringify({ type: 'message_updated', ...message })

export const errorFrame = ({ code, detail, clientId }: FrameError): string =>
  JSON.stringify(clientId === undefined ? { type: 'error', code, detail } : { type: 'error', code, detail, client_id: clientId })
