import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import { SendRefused } from '../db/message-writer.js'
import type { SendRequest, SendResult } from '../db/message-writer.js'
import { isDatabaseUnavailable } from '../lib/db-errors.js'
import { errorFrame, isFrameError, parseFrame, type FrameError } from './frames.js'
import type { ChatHub } from './hub.js'
import { ChatSession, CloseCode, isText, type SessionContext } from './session.js'

export interface ConnectionDeps {
  hub: ChatHub
  log: FastifyBaseLogger
  bufferLimit: number
  send: (request: SendRequest) => Promise<SendResult>
  markRead: (roomId: number, userId: number, seq: number) => Promise<void>
}

const PONG = JSON.stringify({ type: 'pong' })

/**
 * Serves one socket: its listeners are attached at once, and frames that arrive while the session joins its
 * room wait for the join, in order, so a message sent on open comes back to its sender.
 */
export function serveConnection (socket: WebSocket, context: SessionContext, lastSeq: number | undefined,
  deps: ConnectionDeps): void {
  const { hub, log } = deps
  const session = new ChatSession(socket, context, deps.bufferLimit)
  const fail = (error: FrameError) => session.send(errorFrame(error))
  let ready = hub.join(session, lastSeq)

  const handleSend = async (frame: { message: string, messageType: SendRequest['messageType'], clientId: string | null }) => {
    try {
      const { message, created } = await deps.send({
        roomId: context.roomId,
        roomName: context.roomName,
        sender: context.user,
        message: frame.message,
        messageType: frame.messageType,
        clientId: frame.clientId
      })
      // A retry gets the stored message back, unless this socket has it coming or has had it already.
      if (!created && message.seq <= session.fromSeq) session.send(JSON.stringify({ type: 'message', ...message }))
    } catch (error) {
      const clientId = frame.clientId ?? undefined
      if (error instanceof SendRefused) {
        session.close(error.reason === 'room_gone' ? CloseCode.roomDeleted : CloseCode.removed, error.message)
      } else if (isDatabaseUnavailable(error)) {
        fail({ code: 'unavailable', detail: 'The message was not stored: the database is unavailable. Retry.', clientId })
      } else {
        log.error({ err: error }, 'send failed')
        session.close(CloseCode.serverError, 'server error')
      }
    }
  }

  const handle = (text: string) => {
    const frame = parseFrame(text)
    if (isFrameError(frame)) return fail(frame)
    switch (frame.type) {
      case 'message': {
        const wait = hub.throttle(session)
        if (wait > 0) {
          return fail({ code: 'throttled', detail: `Too many messages: retry in ${wait} s. Nothing was stored.`, clientId: frame.clientId ?? undefined })
        }
        return void handleSend(frame)
      }
      case 'typing':
        return hub.typing(session)
      case 'read':
        return void deps.markRead(context.roomId, context.user.id, frame.seq).catch((error: unknown) => {
          if (isDatabaseUnavailable(error)) fail({ code: 'unavailable', detail: 'The database is unavailable. Retry.' })
          else log.error({ err: error }, 'mark read failed')
        })
      case 'ping':
        return session.send(PONG)
    }
  }

  socket.on('message', (data, isBinary) => {
    session.missedPings = 0
    if (!isText(data, isBinary)) {
      fail({ code: 'invalid_json', detail: 'Binary frames are not accepted: send JSON in text frames.' })
      return
    }
    const text = data.toString('utf8')
    ready = ready.then(() => {
      try {
        handle(text)
      } catch (error) {
        log.error({ err: error }, 'frame handling failed')
        session.close(CloseCode.serverError, 'server error')
      }
    })
  })
  socket.on('pong', () => { session.missedPings = 0 })
  socket.on('close', () => hub.leave(session))
  // A protocol error (e.g. a frame over the size limit) has already sent its close frame: the socket is cut.
  socket.on('error', (error) => {
    log.debug({ err: error }, 'socket error')
    socket.terminate()
  })

  ready.catch((error: unknown) => {
    log.error({ err: error }, 'could not join the room')
    session.close(CloseCode.serverError, 'server error')
  })
}
