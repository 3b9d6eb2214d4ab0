import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { ReplyRefused, SendRefused } from '../db/message-writer.js'
import type { SendRequest, SendResult } from '../db/message-writer.js'
import { isDatabaseUnavailable } from '../lib/db-errors.js'
import { errorFrame, isFrameError, messageFrame, parseFrame, type IncomingFrame, type FrameError } from './protocol.js'
import type { ChatHub } from './hub.js'
import { ChatSession, CloseCode, isText, type SessionContext } from './session.js'

/** What serving a socket needs besides the socket: one object for all of a route's sockets. */
export interface ConnectionDeps {
  hub: ChatHub
  log: FastifyBaseLogger
  bufferLimit: number
  send: (request: SendRequest) => Promise<SendResult>
  markRead: (roomId: number, userId: number, seq: number) => Promise<number | undefined>
}

const PONG = JSON.stringify({ type: 'pong' })

/*
 * The per-frame work is in plain functions of (session, deps) rather than closures made for each socket: a few
 * hundred bytes less per idle socket (see docs/benchmarks.md, idle memory). Log lines name the socket by room and user.
 */
const where = (session: ChatSession) => ({ roomId: session.context.roomId, userId: session.context.user.id })
const fail = (session: ChatSession, error: FrameError) => session.send(errorFrame(error))

async function handleSend (session: ChatSession, deps: ConnectionDeps, frame: Extract<IncomingFrame, { type: 'message' }>) {
  const { context } = session
  try {
    const { message, created } = await deps.send({
      roomId: context.roomId,
      roomName: context.roomName,
      sender: context.user,
      message: frame.message,
      messageType: frame.messageType,
      clientId: frame.clientId,
      replyTo: frame.replyTo
    })
    // A retry gets the stored message back, unless this socket has it coming or has had it already.
    if (!created && !session.hasSeen(message)) session.send(messageFrame(message))
  } catch (error) {
    const clientId = frame.clientId ?? undefined
    if (error instanceof ReplyRefused) {
      fail(session, { code: 'validation_error', detail: `/reply_to: ${error.message}`, clientId })
    } else if (error instanceof SendRefused) {
      session.close(error.reason === 'room_gone' ? CloseCode.roomDeleted : CloseCode.removed, error.message)
    } else if (isDatabaseUnavailable(error)) {
      fail(session, { code: 'unavailable', detail: 'The message was not stored: the database is unavailable. Retry.', clientId })
    } else {
      deps.log.error({ err: error, ...where(session) }, 'send failed')
      session.close(CloseCode.serverError, 'server error')
    }
  }
}

/**
 * A socket's `read` frames keep one mark in flight: a member of a busy room sends one per message, and those that come
 * while a mark is in flight become one, the highest, marked when it settles. The read writer would merge them into
 * one row anyway; here they also cost one promise and one announcement rather than one each.
 */
function markRead (session: ChatSession, deps: ConnectionDeps, seq: number): void {
  if (session.readQueued !== undefined) {
    session.readQueued = Math.max(session.readQueued, seq)
    return
  }
  session.readQueued = 0
  const { roomId, user } = session.context
  const settled = () => {
    const next = session.readQueued!
    session.readQueued = undefined
    if (next > seq) markRead(session, deps, next)
  }
  deps.markRead(roomId, user.id, seq).then((moved) => {
    if (moved !== undefined) deps.hub.announceRead(roomId, user, moved, session)
    settled()
  }, (error: unknown) => {
    if (isDatabaseUnavailable(error)) fail(session, { code: 'unavailable', detail: 'The database is unavailable. Retry.' })
    else deps.log.error({ err: error, ...where(session) }, 'mark read failed')
    settled()
  })
}

function handle (session: ChatSession, deps: ConnectionDeps, text: string): void {
  const frame = parseFrame(text)
  if (isFrameError(frame)) {
    fail(session, frame)
    return
  }
  switch (frame.type) {
    case 'message': {
      const wait = deps.hub.throttle(session)
      if (wait > 0) {
        fail(session, { code: 'throttled', detail: `Too many messages: retry in ${wait} s. Nothing was stored.`, clientId: frame.clientId ?? undefined })
        return
      }
      void handleSend(session, deps, frame)
      return
    }
    case 'typing':
      deps.hub.typing(session)
      return
    case 'read':
      markRead(session, deps, frame.seq)
      return
    case 'ping':
      session.send(PONG)
  }
}

/**
 * Serves one socket: its listeners are attached at once, and frames that arrive while the session joins its
 * room wait for the join, in order, so a message sent on open comes back to its sender.
 */
export function serveConnection (socket: WebSocket, context: SessionContext,
  resume: { lastSeq?: number | undefined, lastRev?: number | undefined }, deps: ConnectionDeps): void {
  const session = new ChatSession(socket, context, deps.bufferLimit)
  let ready = deps.hub.join(session, resume)

  socket.on('message', (data, isBinary) => {
    session.missedPings = 0
    if (!isText(data, isBinary)) {
      fail(session, { code: 'invalid_json', detail: 'Binary frames are not accepted: send JSON in text frames.' })
      return
    }
    const text = data.toString('utf8')
    ready = ready.then(() => {
      try {
        handle(session, deps, text)
      } catch (error) {
        deps.log.error({ err: error, ...where(session) }, 'frame handling failed')
        session.close(CloseCode.serverError, 'server error')
      }
    })
  })
  socket.on('pong', () => { session.missedPings = 0 })
  socket.on('close', () => deps.hub.leave(session))
  // A protocol error (e.g. a frame over the size limit) has already sent its close frame: the socket is cut.
  socket.on('error', (error) => {
    deps.log.debug({ err: error, ...where(session) }, 'socket error')
    socket.terminate()
  })

  ready.catch((error: unknown) => {
    deps.log.error({ err: error, ...where(session) }, 'could not join the room')
    session.close(CloseCode.serverError, 'server error')
  })
}
