import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { asyncApiYaml } from '../src/docs/asyncapi.js'
import { finishOpenApi } from '../src/docs/openapi.js'

/**
 * The OpenAPI 3 document, generated from the route schemas (`/docs/json`), Swagger UI (`/docs`), and the socket's
 * AsyncAPI document (`/docs/asyncapi`). Shared schemas keep their $id as component names, so generated SDKs get
 * `User`, `Room`, `Message`, `ErrorResponse` types. `npm run openapi` commits both documents (scripts/generate-docs.ts).
 */
export default fp(async function docs (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Chat backend',
        description: 'Token auth, rooms, paginated history, and a WebSocket per room (`/ws/chat/{room_name}/`). ' +
          'Every error has the `ErrorResponse` shape.',
        version: '1.0.0'
      },
      components: {
        securitySchemes: {
          Token: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: '`Token <40 hex characters>` (DRF style); `Bearer <token>` is accepted too.'
          },
          TokenQuery: {
            type: 'apiKey',
            in: 'query',
            name: 'token',
            description: 'The socket handshake only (`?token=`); REST reads the header.'
          }
        }
      },
      tags: [
        { name: 'auth' }, { name: 'rooms' }, { name: 'members' }, { name: 'messages' },
        {
          name: 'socket',
          description: 'The room WebSocket: its frames and close codes are in the AsyncAPI document.',
          externalDocs: { description: 'AsyncAPI 3 document', url: '/docs/asyncapi' }
        },
        { name: 'health' }
      ]
    },
    transformObject (documentObject) {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject
      return finishOpenApi(documentObject.openapiObject as Parameters<typeof finishOpenApi>[0])
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })

  const asyncApi = asyncApiYaml()
  fastify.get('/docs/asyncapi', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/yaml; charset=utf-8').send(asyncApi))
}, { name: 'swagger', dependencies: ['schemas'] })
