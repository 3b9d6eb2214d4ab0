import { readFileSync } from 'node:fs'
import { Parser } from '@asyncapi/parser'
import { Value } from '@sinclair/typebox/value'
import t from 'tap'
import { CloseCode } from '../../src/chat/session.js'
import { artifactFiles } from '../../src/docs/artifacts.js'
import { asyncApiDocument, asyncApiYaml, clientFrames, serverFrames } from '../../src/docs/asyncapi.js'
import { Message, Reaction, ReplyTo } from '../../src/schemas/messages.js'
import { User } from '../../src/schemas/users.js'
import { api, createRoom, openSocket, refusal, register, uniqueName } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

const server = await startServer(t)
const committed = readFileSync(artifactFiles.asyncapi, 'utf8')
const document = asyncApiDocument() as any
const channel = document.channels.room

/** Diagnostics at or above `warning` (Spectral severities: 0 error, 1 warning, 2 information, 3 hint). */
async function parse (text: string) {
  const { document: parsed, diagnostics } = await new Parser().parse(text)
  return { parsed, problems: diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`) }
}

t.test('asyncapi.yaml is a valid AsyncAPI 3 document (@asyncapi/parser: no errors, no warnings)', async (t) => {
  const { parsed, problems } = await parse(committed)
  t.same(problems, [])
  t.equal(parsed?.version(), '3.0.0')
  t.same(parsed?.channels().all().map((c) => c.address()), ['/ws/chat/{room_name}/'])
  t.same(parsed?.channels().all()[0]?.parameters().all().map((p) => p.id()), ['room_name'])
})

t.test('the committed asyncapi.yaml is what the schemas generate, and the server serves it', async (t) => {
  t.equal(committed, asyncApiYaml(), 'asyncapi.yaml differs from src/docs/asyncapi.ts: run `npm run openapi`')
  const served = await fetch(`${server.url}/docs/asyncapi`)
  t.equal(served.status, 200)
  t.match(served.headers.get('content-type'), /^application\/yaml/)
  t.equal(await served.text(), committed)
})

t.test('the YAML reads back as the same document (the parser on the YAML and on its JSON agree)', async (t) => {
  const fromYaml = await parse(committed)
  const fromJson = await parse(JSON.stringify(document))
  t.ok(fromYaml.parsed && fromJson.parsed)
  t.same(fromYaml.parsed?.json(), fromJson.parsed?.json())
})

t.test('every frame of the API has a message and an operation', async (t) => {
  const sent = Object.values(document.operations).filter((op: any) => op.action === 'send')
    .map((op: any) => document.components.schemas[op.messages[0].$ref.split('/').pop()].properties.type?.const ?? 'message')
  t.same(sent.sort(), ['message', 'ping', 'read', 'typing'], 'client frames: send, typing, read, ping')
  const received = Object.values(document.operations).filter((op: any) => op.action === 'receive')
    .map((op: any) => op.messages[0].$ref.split('/').pop())
  t.same(received.sort(), ['ErrorFrame', 'MessageFrame', 'MessageUpdatedFrame', 'PongFrame', 'PresenceEvent', 'ReadEvent', 'TypingEvent'])
  t.same(document.components.schemas.ErrorFrame.properties.code.anyOf.map((c: any) => c.const),
    ['invalid_json', 'validation_error', 'throttled', 'unavailable'], 'every socket error code')
  t.same(Object.keys(channel.bindings.ws.query.properties), ['token', 'last_seq', 'last_rev'], 'token, last_seq and last_rev in the query')
})

/** A schema's alternatives in a dialect-free form: OpenAPI 3.0's `nullable`/`enum` and JSON Schema's `anyOf`/`const` agree. */
function alternatives (schema: any): string[] {
  if (schema.$ref !== undefined) return [`ref:${String(schema.$ref).split('/').pop()}`]
  if (schema.anyOf !== undefined) return schema.anyOf.flatMap(alternatives).sort()
  const nullable = schema.nullable === true ? ['null'] : []
  if (schema.allOf !== undefined) return [...schema.allOf.flatMap(alternatives), ...nullable].sort()
  if (schema.const !== undefined) return [`${schema.type}:${schema.const}`]
  if (schema.enum !== undefined) return [...schema.enum.map((value: unknown) => `${schema.type}:${value}`), ...nullable].sort()
  return [schema.type, ...nullable].sort()
}
const shape = (schema: any) => ({
  required: schema.required,
  properties: Object.fromEntries(Object.entries(schema.properties).map(([key, value]) => [key, alternatives(value)]))
})

t.test('the socket Message and User are the REST ones (same fields, types and requirements)', async (t) => {
  const openapi = JSON.parse(readFileSync(artifactFiles.openapi, 'utf8'))
  for (const name of ['Message', 'User']) {
    t.same(shape(document.components.schemas[name]), shape(openapi.components.schemas[name]), `${name} matches openapi.json`)
  }
  t.same(document.components.schemas.MessageFrame.allOf[0], { $ref: '#/components/schemas/Message' },
    'the message frame is the Message plus its type')
})

t.test('the close codes are the API\'s, each with what a client should do next', async (t) => {
  const codes = channel['x-close-codes']
  t.same(codes.map((c: any) => c.code), [1000, 1001, 1009, 1011, 4401, 4403, 4404, 4408])
  t.same(codes.map((c: any) => c.code).sort(), Object.values(CloseCode).sort(), 'every code the server uses')
  t.same(codes.find((c: any) => c.code === 4401), { code: 4401, meaning: 'token revoked (logout)', clientShould: 'stop; log in again' })
  t.match(codes.find((c: any) => c.code === 4408).clientShould, /last_seq/)
  for (const { code, clientShould } of codes) t.match(channel.description, new RegExp(`\\| ${code} \\|.*\\| ${clientShould.replace(/[()`]/g, '.')} \\|`))
})

t.test('the handshake refusals are the ones the server answers, and the OpenAPI socket route lists them', async (t) => {
  const refusals = channel['x-handshake-refusals'] as Array<{ status: number, codes: string[] }>
  const openapi = JSON.parse(readFileSync(artifactFiles.openapi, 'utf8'))
  const socketStatuses = Object.keys(openapi.paths['/ws/chat/{room_name}/'].get.responses).map(Number).filter((s) => s >= 400)
  t.same(refusals.map((r) => r.status), socketStatuses)

  const owner = await register(server.url)
  const stranger = await register(server.url)
  const room = await createRoom(server.url, owner.token)
  const seen = [
    await refusal(openSocket(server.wsUrl, room.name)),
    await refusal(openSocket(server.wsUrl, room.name, { token: stranger.token })),
    await refusal(openSocket(server.wsUrl, uniqueName('gone'), { token: owner.token })),
    await refusal(openSocket(server.wsUrl, room.name, { token: owner.token, query: `token=${owner.token}&last_seq=-1` }))
  ]
  t.same(seen.map((r) => r.status), [401, 403, 404, 400])
  for (const { status, body } of seen) {
    t.ok(refusals.find((r) => r.status === status)?.codes.includes(body.code), `${status} ${body.code} is documented`)
  }
})

t.test('live frames match the documented payloads, and the documented client frames are accepted', async (t) => {
  const alice = await register(server.url)
  const bob = await register(server.url)
  const room = await createRoom(server.url, alice.token)
  await api(server.url, 'POST', `/api/chat/groups/${room.name}/join/`, { token: bob.token })
  // A pong proves a socket has joined its room (frames wait for the join), so the next frames reach it.
  const pongs = (socket: typeof a, count: number) => socket.until((frames) => frames.filter((f) => f.type === 'pong').length >= count)
  const a = await openSocket(server.wsUrl, room.name, { token: alice.token })
  t.teardown(() => a.close())
  a.send(clientFrames.ping.example)
  await pongs(a, 1)
  const b = await openSocket(server.wsUrl, room.name, { token: bob.token })
  t.teardown(() => b.close())
  b.send(clientFrames.ping.example)
  await pongs(b, 1)
  await a.next((f) => f.type === 'presence' && f.user.username === bob.user.username && f.online === true)

  // The documented examples of the client frames, as sent, and two bad frames.
  a.send(clientFrames.message.example)
  a.send(clientFrames.typing.example)
  a.send('{not json')
  a.send({ message: '   ' })
  const [stored] = await b.messageCount(1)
  await b.next((f) => f.type === 'typing')
  await api(server.url, 'PUT', `/api/chat/groups/${room.name}/messages/${stored.id}/reactions/%F0%9F%91%8D/`, { token: bob.token })
  await a.next((f) => f.type === 'message_updated')
  a.send({ ...clientFrames.read.example, seq: stored.seq })
  a.send(clientFrames.ping.example)
  // Frames are handled in order: once this pong is here, an error for any frame above would be too.
  await pongs(a, 2)

  const history = await api(server.url, 'GET', `/api/chat/groups/${room.name}/messages/`, { token: bob.token })
  const { type, ...rest } = stored
  t.same(rest, { ...history.body.results[0], rev: stored.rev, reactions: [] }, 'the message frame is the REST Message plus its type')
  t.same(a.frames.filter((f) => f.type === 'error').map((f) => f.code), ['invalid_json', 'validation_error'])

  const schemaOf = Object.fromEntries(Object.values(serverFrames).map((frame) => [frame.example.type, frame.schema]))
  const frames = [...a.frames, ...b.frames]
  t.same([...new Set(frames.map((f) => f.type))].sort(), ['error', 'message', 'message_updated', 'pong', 'presence', 'typing'])
  for (const frame of frames) {
    t.ok(Value.Check(schemaOf[frame.type]!, [User, ReplyTo, Reaction, Message], frame), `a ${frame.type} frame matches its payload schema`)
  }
  for (const frame of Object.values(clientFrames)) t.ok(Value.Check(frame.schema, frame.example), `${frame.name} example is valid`)
  for (const frame of Object.values(serverFrames)) {
    t.ok(Value.Check(frame.schema, [User, ReplyTo, Reaction, Message], frame.example), `${frame.name} example is valid`)
  }
})
