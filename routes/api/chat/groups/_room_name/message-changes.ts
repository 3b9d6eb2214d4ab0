import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isEmoji, normalizeSend } from '../../../../../src/chat/message-text.js'
import { ChangeRefused, type ChangeKind } from '../../../../../src/db/change-batch.js'
import { toUser } from '../../../../../src/db/mappers.js'
import { ReplyRefused, SendRefused } from '../../../../../src/db/message-writer.js'
import { HttpError, notFound, permissionDenied } from '../../../../../src/lib/http-error.js'
import { RoomName } from '../../../../../src/schemas/common.js'
import { errors } from '../../../../../src/schemas/errors.js'
import { ChangesPage, EditBody, SendBody } from '../../../../../src/schemas/messages.js'

const tags = ['messages']
const security = [{ Token: [] }]
const MessageRef = Type.Ref('Message')
const MessageParams = Type.Object({
  room_name: RoomName,
  message_id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
})
const ReactionParams = Type.Object({
  ...MessageParams.properties,
  emoji: Type.String({ description: 'Percent-encoded UTF-8: 1..32 code points, no whitespace or control characters' })
})

const invalid = (field: string, message: string) =>
  new HttpError(400, 'validation_error', `${field}: ${message}`, [{ field, message }])

/** A refusal from the writer, as the route's error; anything else is not ours to translate. */
function refusal (error: unknown): unknown {
  if (error instanceof ChangeRefused) {
    switch (error.reason) {
      case 'not_member': case 'forbidden': return permissionDenied(error.message)
      case 'room_gone': case 'not_found': return notFound(error.message)
      case 'too_many_emojis': return invalid('/emoji', error.message)
      case 'invalid_message': return invalid('/message', error.message)
    }
  }
  if (error instanceof ReplyRefused) return invalid('/reply_to', error.message)
  if (error instanceof SendRefused) return error.reason === 'room_gone' ? notFound(error.message) : permissionDenied(error.message)
  return error
}

/**
 * Writing a room's messages over REST: sends (for bots and SDKs without a socket), edits, deletions, reactions, and
 * the changes feed. Every change goes through the group-commit writer that socket sends take: committed before it
 * is answered, then published to every socket in the room.
 */
const messageChanges: FastifyPluginAsyncTypebox = async (fastify) => {
  const { messagesRepository, chatHub, requireMember } = fastify

  /** A change counts against the caller's send rate in this room (members only: the routes' preHandler). */
  const admitChange = (request: FastifyRequest, reply: FastifyReply) => {
    const wait = chatHub.throttleUser(request.room.id, request.user.id)
    if (wait > 0) {
      reply.header('retry-after', wait)
      throw new HttpError(429, 'throttled', `Too many messages: retry in ${wait} s. Nothing was stored.`)
    }
  }

  const change = async (request: FastifyRequest, reply: FastifyReply, details: ChangeKind) => {
    admitChange(request, reply)
    try {
      return await messagesRepository.change({
        roomId: request.room.id,
        roomName: request.room.name,
        actor: { id: request.user.id, isStaff: request.user.isStaff },
        messageId: (request.params as { message_id: number }).message_id,
        ...details
      })
    } catch (error) {
      throw refusal(error)
    }
  }

  const emojiOf = (request: { params: { emoji: string } }) => {
    const { emoji } = request.params
    if (!isEmoji(emoji)) throw invalid('/emoji', 'must be 1 to 32 characters, none of them whitespace or control characters')
    return emoji
  }

  fastify.post('/messages/', {
    schema: {
      tags,
      security,
      operationId: 'sendGroupMessage',
      summary: 'Send a message (the same group commit and broadcast as a socket send); a retried client_id answers 200',
      params: Type.Object({ room_name: RoomName }),
      body: SendBody,
      response: { 200: MessageRef, 201: MessageRef, ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request, reply) => {
    const send = normalizeSend(request.body)
    if ('error' in send) throw invalid(send.field, send.error)
    admitChange(request, reply)
    try {
      const { message, created } = await messagesRepository.send({
        roomId: request.room.id,
        roomName: request.room.name,
        sender: toUser(request.user),
        ...send
      })
      return await reply.code(created ? 201 : 200).send(message)
    } catch (error) {
      throw refusal(error)
    }
  })

  fastify.get('/messages/:message_id/', {
    schema: {
      tags,
      security,
      operationId: 'getGroupMessage',
      summary: 'One message in its current state (a deleted one is a tombstone)',
      params: MessageParams,
      response: { 200: MessageRef, ...errors(400, 401, 403, 404, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request) => {
    const message = await messagesRepository.one(request.room.id, request.room.name, request.params.message_id)
    if (message === undefined) throw notFound('No such message in this room.')
    return message
  })

  fastify.patch('/messages/:message_id/', {
    schema: {
      tags,
      security,
      operationId: 'editGroupMessage',
      summary: 'Edit a message (its sender only): new text, edited_at, a new rev; the same text changes nothing',
      params: MessageParams,
      body: EditBody,
      response: { 200: MessageRef, ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request, reply) => {
    // The type-dependent rule (an image's text is its URL) is checked against the stored message.
    if (request.body.message.includes('\u0000')) throw invalid('/message', 'must not contain NUL characters')
    return (await change(request, reply, { kind: 'edit', message: request.body.message })).message
  })

  fastify.delete('/messages/:message_id/', {
    schema: {
      tags,
      security,
      operationId: 'deleteGroupMessage',
      summary: 'Delete a message (its sender, the room\'s owner, or staff): it stays in history as a tombstone',
      params: MessageParams,
      response: { 204: Type.Null({ description: 'Deleted (or already a tombstone)' }), ...errors(400, 401, 403, 404, 413, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request, reply) => {
    await change(request, reply, { kind: 'delete' })
    return reply.code(204).send(null)
  })

  // PUT adds the caller's reaction, DELETE takes it back; either is a 200 that changes nothing when it is already so.
  const reactionRoutes = [
    { method: 'PUT', kind: 'react', operationId: 'addReaction', summary: 'React to a message with an emoji (again: no change)' },
    { method: 'DELETE', kind: 'unreact', operationId: 'removeReaction', summary: 'Take back the caller\'s reaction (none: no change)' }
  ] as const
  for (const { method, kind, operationId, summary } of reactionRoutes) {
    fastify.route({
      method,
      url: '/messages/:message_id/reactions/:emoji/',
      schema: {
        tags,
        security,
        operationId,
        summary,
        params: ReactionParams,
        // A DELETE parses a body (to refuse one), so it can be too large.
        response: { 200: MessageRef, ...errors(400, 401, 403, 404, ...(method === 'DELETE' ? [413] as const : []), 429, 500, 503) }
      },
      preHandler: requireMember,
      handler: async (request, reply) => (await change(request, reply, { kind, emoji: emojiOf(request) })).message
    })
  }

  fastify.get('/changes/', {
    schema: {
      tags,
      security,
      operationId: 'listGroupChanges',
      summary: 'Every message changed after `since`, in rev order, in its current state: sync without a socket',
      params: Type.Object({ room_name: RoomName }),
      querystring: Type.Object({
        since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 }))
      }, { additionalProperties: false }),
      response: { 200: Type.Ref(ChangesPage), ...errors(400, 401, 403, 404, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request) => {
    return await messagesRepository.changes(request.room.id, request.room.name, request.query.since ?? 0, request.query.limit ?? 100)
  })
}

export default messageChanges
