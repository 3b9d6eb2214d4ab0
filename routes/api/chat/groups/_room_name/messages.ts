import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { isSeq, readCursor, toPage } from '../../../../../src/lib/page-links.js'
import { PageQuery, RoomName } from '../../../../../src/schemas/common.js'
import { errors } from '../../../../../src/schemas/errors.js'
import { MessagePage } from '../../../../../src/schemas/messages.js'

const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  const { messagesRepository, cursors, requireMember } = fastify

  fastify.get('/messages/', {
    schema: {
      tags: ['messages'],
      security: [{ Token: [] }],
      operationId: 'listGroupMessages',
      summary: 'History, newest first, in keyset pages; `next` leads to older messages',
      params: Type.Object({ room_name: RoomName }),
      querystring: PageQuery,
      response: { 200: Type.Ref(MessagePage), ...errors(400, 401, 403, 404, 429, 500, 503) }
    },
    preHandler: requireMember
  }, async (request) => {
    const { id, name } = request.room
    // Cursors are signed for this room only: one from another room is refused like a forged one.
    const scope = `messages:${id}`
    const cursor = readCursor(cursors, scope, request.query.cursor, isSeq)
    const page = await messagesRepository.page(id, name, cursor, request.query.limit ?? 50)
    return toPage(request, cursors, scope, page, (message) => message)
  })
}

export default messages
