import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { toRoom } from '../../../../src/db/mappers.js'
import { isName, readCursor, toPage } from '../../../../src/lib/page-links.js'
import { errors } from '../../../../src/schemas/errors.js'
import { AllGroupsQuery, RoomPage } from '../../../../src/schemas/rooms.js'

const SCOPE = 'rooms'

const allGroups: FastifyPluginAsyncTypebox = async (fastify) => {
  const { roomsRepository, cursors } = fastify

  fastify.get('/', {
    schema: {
      tags: ['rooms'],
      security: [{ Token: [] }],
      operationId: 'listAllGroups',
      summary: 'Every public room and the private rooms the caller is in, by name, with `is_member`',
      querystring: AllGroupsQuery,
      response: { 200: Type.Ref(RoomPage), ...errors(400, 401, 429, 500, 503) }
    }
  }, async (request) => {
    const { search, limit = 50 } = request.query
    const cursor = readCursor(cursors, SCOPE, request.query.cursor, isName)
    const page = await roomsRepository.page(request.user, search, cursor, limit)
    return toPage(request, cursors, SCOPE, page, (row) => ({ ...toRoom(row), is_member: row.isMember }))
  })
}

export default allGroups
