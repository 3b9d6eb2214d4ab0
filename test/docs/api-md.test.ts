import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { OpenAPIV3 } from 'openapi-types'
import t from 'tap'
import { CloseCode } from '../../src/chat/session.js'
import { rootDir } from '../../src/paths.js'
import { ErrorFrame } from '../../src/schemas/frames.js'
import { startServer } from '../helpers/server.js'

// docs/api.md is the API in prose; this keeps it true to the server, as test/config.test.ts does the README's table.
const page = readFileSync(join(rootDir, 'docs/api.md'), 'utf8')
const readme = readFileSync(join(rootDir, 'README.md'), 'utf8')
const server = await startServer(t)
const document = server.app.swagger() as OpenAPIV3.Document

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const
/** `METHOD /path/` with the path's parameters written `<name>`, as the page writes them. */
const served = Object.entries(document.paths).flatMap(([path, item]) => METHODS
  .filter((method) => item?.[method] !== undefined)
  .map((method) => `${method.toUpperCase()} ${path.replaceAll(/\{(\w+)\}/g, '<$1>')}`))
/** The routes the page names: `METHOD /path` in backquotes, without the query. */
const named = [...page.matchAll(/`(GET|PUT|POST|PATCH|DELETE) (\/[^`?\s]*)[^`]*`/g)].map(([, method, path]) => `${method} ${path}`)

t.test('every route of the OpenAPI document is in docs/api.md', async (t) => {
  t.ok(served.length > 15, 'the document has routes')
  for (const route of served) {
    // The socket's upgrade is documented as its URL, in its own section.
    if (route.startsWith('GET /ws/')) t.match(page, `ws://host${route.slice(4)}`, route)
    else t.ok(named.includes(route), `${route} in docs/api.md`)
  }
})

t.test('every route docs/api.md names exists', async (t) => {
  for (const route of named) {
    const [method, path] = route.split(' ') as [string, string]
    const url = path.replaceAll(/<(\w+)>/g, ':$1')
    // Routes are registered without their trailing slash, which the router ignores.
    const exists = [url, url.replace(/(.)\/$/, '$1')].some((url) => server.app.hasRoute({ method, url }))
    t.ok(exists, `${route} is a route of the server`)
  }
})

t.test('every close code is in the close-code table, and only those', async (t) => {
  const table = page.slice(page.indexOf('### Close codes'))
  const documented = [...table.matchAll(/^\| (\d{4}) \|/gm)].map(([, code]) => Number(code))
  t.same(documented.sort(), Object.values(CloseCode).sort())
})

t.test('every error code is in docs/api.md', async (t) => {
  // The REST codes are a type, not a value: read them from its source.
  const source = readFileSync(join(rootDir, 'src/lib/http-error.ts'), 'utf8')
  const union = /export type ErrorCode =([^]*?)\n\n/.exec(source)![1]!
  const rest = [...union.matchAll(/'(\w+)'/g)].map(([, code]) => code!)
  t.ok(rest.length >= 10, 'the REST codes were found')
  for (const code of rest) t.match(page, new RegExp(`^\\| \\d{3} \\| \`${code}\` \\|`, 'm'), `${code} in the error table`)
  const socket = ErrorFrame.properties.code.anyOf.map((literal: { const: string }) => literal.const)
  for (const code of socket) t.match(page, `\`${code}\``, `socket error ${code} in docs/api.md`)
})

t.test('the README links docs/api.md on its first screen, and states the retry rule', async (t) => {
  const firstScreen = readme.split('\n').slice(0, 30).join('\n')
  t.match(firstScreen, '(docs/api.md)')
  for (const text of [readme, page]) {
    t.match(text, /already holds that message[^.]*no second copy/)
    t.match(text, /does not hold it[^.]*answered with the stored message/)
  }
})
