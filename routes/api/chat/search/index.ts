import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { searchQuery } from '../../../../src/chat/message-text.js'
import { HttpError } from '../../../../src/lib/http-error.js'
import { readCursor, toPage } from '../../../../src/lib/page-links.js'
import type { SearchKey } from '../../../../src/repositories/messages.js'
import { RoomName } from '../../../../src/schemas/common.js'
import { errors } from '../../../../src/schemas/errors.js'
import { MessagePage } from '../../../../src/schemas/messages.js'

const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 200, description: 'Words: each must appear in the text, the last one also as a prefix' }),
  room: Type.Optional(RoomName),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String())
}, { additionalProperties: false })

const isSearchKey = (key: unknown): key is SearchKey => Array.isArray(key) && key.length === 2 &&
  typeof key[0] === 'string' && !Number.isNaN(Date.parse(key[0])) && Number.isSafeInteger(key[1])

/** Full-text search over the messages of the caller's rooms. */
const search: FastifyPluginAsyncTypebox = async (fastify) => {
  const { messagesRepository, cursors, loadNamedRoom, requireMember } = fastify

  fastify.get('/', {
    schema: {
      tags: ['messages'],
      security: [{ Token: [] }],
      operationId: 'searchMessages',
      summary: 'Messages of the rooms the caller is in whose text has every word of `q`, newest first',
      description: 'A word is a run of letters and digits (any script), matched whole and case-insensitively; the last ' +
        'word of `q` also as a prefix. Anything else in `q` (`&`, `|`, `!`, quotes...) only separates words. Deleted ' +
        'messages never match. `room` narrows to one room, and answers as the room routes do (403, 404).',
      querystring: SearchQuery,
      response: { 200: Type.Ref(MessagePage), ...errors(400, 401, 403, 404, 429, 500, 503) }
    }
  }, async (request) => {
    const { q, room: roomName, limit = 50 } = request.query
    const query = searchQuery(q)
    if (query === undefined) {
      throw new HttpError(400, 'validation_error', '/q: must contain a word (letters or digits).',
        [{ field: '/q', message: 'must contain a word (letters or digits)' }])
    }
    let roomId: number | undefined
    if (roomName !== undefined) {
      await loadNamedRoom(request, roomName)
      await requireMember(request)
      roomId = request.room.id
    }
    // Signed for this caller and this search only.
    const scope = `search:${request.user.id}:${roomId ?? ''}:${query}`
    const cursor = readCursor(cursors, scope, request.query.cursor, isSearchKey)
    const page = await messagesRepository.search(request.user.id, roomId, query, cursor, limit)
    return toPage(request, cursors, scope, page, (message) => message)
  })
}

export default search
