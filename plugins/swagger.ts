import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/**
 * The OpenAPI 3 document, generated from the route schemas (`/docs/json`), and Swagger UI (`/docs`). Shared schemas
 * keep their $id as component names, so generated SDKs get `User`, `Room`, `Message`, `ErrorResponse` types.
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
          }
        }
      },
      tags: [
        { name: 'auth' }, { name: 'rooms' }, { name: 'members' }, { name: 'messages' }, { name: 'socket' }, { name: 'health' }
      ]
    },
    // The contract writes API paths with their trailing slash (both forms are served).
    transformObject (documentObject) {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject
      const { openapiObject } = documentObject
      const paths = openapiObject.paths ?? {}
      openapiObject.paths = Object.fromEntries(Object.entries(paths).map(([path, item]) =>
        [/^\/(api|ws)\//.test(path) && !path.endsWith('/') ? `${path}/` : path, item]))
      return openapiObject
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'swagger', dependencies: ['schemas'] })
