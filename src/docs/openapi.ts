import type { OpenAPIV3 } from 'openapi-types'

type Document = Partial<OpenAPIV3.Document>

/** What each error status means, from the error table of docs/api.md: the description of every error response. */
const errorStatuses: Record<number, string> = {
  400: '`validation_error` (body, query or path fails its schema; `errors` lists each field) or `invalid_cursor`',
  401: '`not_authenticated` (no credentials) or `authentication_failed` (unknown or revoked token; wrong password)',
  403: '`permission_denied`: authenticated, not allowed (not a member, not the owner, private room)',
  404: '`not_found`: no such room or user; a private room the caller is not in answers the same',
  409: '`conflict`: the username or room name is taken, or the user is already a member',
  413: '`payload_too_large`: the body is over the limit',
  429: '`throttled`: rate limit hit; retry after `Retry-After` seconds',
  500: '`server_error`: a bug; quote `request_id`, which finds it in the log',
  503: '`unavailable`: the database or the broker is down; retry later'
}

const successes: Record<string, string> = { 200: 'OK', 201: 'Created', 204: 'No Content' }
const methodOrder = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace']

/**
 * Finishes the document @fastify/swagger generates: the API's paths (with their trailing slash), a stable
 * order (paths, methods and components sorted, so `openapi.json` diffs only when the API does), a description
 * for every response, and enums where TypeBox writes unions of literals (generators turn those into plain enums).
 */
export function finishOpenApi (document: Document): Document {
  const paths = Object.entries(document.paths ?? {})
    .map(([path, item]) => [/^\/(api|ws)\//.test(path) && !path.endsWith('/') ? `${path}/` : path, item] as const)
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  document.paths = Object.fromEntries(paths.map(([path, item]) => [path, sortMethods(item ?? {})]))
  for (const item of Object.values(document.paths)) {
    for (const method of methodOrder) {
      const operation = (item as Record<string, OpenAPIV3.OperationObject | undefined>)[method]
      if (operation !== undefined) describeResponses(operation.responses)
    }
  }
  const schemas = document.components?.schemas
  if (document.components !== undefined && schemas !== undefined) {
    document.components.schemas = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a < b ? -1 : 1))
  }
  return collapseLiteralUnions(document) as Document
}

function sortMethods (item: OpenAPIV3.PathItemObject): OpenAPIV3.PathItemObject {
  const rank = (key: string) => methodOrder.includes(key) ? methodOrder.indexOf(key) : -1
  return Object.fromEntries(Object.entries(item).sort(([a], [b]) => rank(a) - rank(b)))
}

function describeResponses (responses: OpenAPIV3.ResponsesObject) {
  for (const [status, response] of Object.entries(responses)) {
    if ('$ref' in response) continue
    const error = errorStatuses[Number(status)]
    const isError = Number(status) >= 400 && error !== undefined
    if (isError) response.description = error
    else if (response.description === 'Default Response') response.description = successes[status] ?? status
    if (status === '429') {
      response.headers = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } }
    }
  }
}

/**
 * `anyOf: [{type: 'string', enum: ['a']}, {type: 'string', enum: ['b']}]` becomes `{type: 'string', enum: ['a', 'b']}`,
 * and `anyOf: [{$ref}, null]` becomes `{allOf: [{$ref}], nullable: true}`.
 */
function collapseLiteralUnions (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(collapseLiteralUnions)
  if (typeof value !== 'object' || value === null) return value
  const object = Object.fromEntries(Object.entries(value).map(([key, child]) => [key, collapseLiteralUnions(child)]))
  const members = object.anyOf as Array<Record<string, unknown>> | undefined
  if (!Array.isArray(members) || members.length === 0) return object
  // A nullable reference (`Type.Union([Type.Ref(X), Type.Null()])`) in OpenAPI 3.0's words: `allOf` and `nullable`.
  const isNull = (member: Record<string, unknown>) => member.nullable === true && Array.isArray(member.enum) &&
    member.enum.length === 1 && member.enum[0] === null
  if (members.length === 2 && typeof members[0]?.$ref === 'string' && isNull(members[1]!)) {
    const { anyOf: _anyOf, ...rest } = object
    return { ...rest, allOf: [members[0]], nullable: true }
  }
  const type = members[0]?.type
  const literals = members.every((member) => Object.keys(member).length === 2 && member.type === type &&
    Array.isArray(member.enum) && member.enum.length === 1)
  if (!literals) return object
  const { anyOf: _anyOf, ...rest } = object
  return { ...rest, type, enum: members.map((member) => (member.enum as unknown[])[0]) }
}
