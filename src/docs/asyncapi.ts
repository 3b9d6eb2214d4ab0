import { Type, type TSchema } from '@sinclair/typebox'
import { CloseCode } from '../chat/session.js'
import { ErrorResponse } from '../schemas/errors.js'
import { ErrorFrame, PingFrame, PongFrame, PresenceEvent, ReadEvent, ReadFrame, SendFrame, TypingEvent, TypingFrame } from '../schemas/frames.js'
import { Message, Reaction, ReplyTo } from '../schemas/messages.js'
import { RoomName } from '../schemas/common.js'
import { User } from '../schemas/users.js'
import { toYaml } from './yaml.js'

/** The server's `{"type": "message", …Message}` frame: the REST Message plus its type. */
const MessageFrame = Type.Intersect([Type.Ref(Message), Type.Object({ type: Type.Literal('message') })], { $id: 'MessageFrame' })
/** `{"type": "message_updated", …Message}`: a message's current state after an edit, a deletion or a reaction. */
const MessageUpdatedFrame = Type.Intersect([Type.Ref(Message), Type.Object({ type: Type.Literal('message_updated') })],
  { $id: 'MessageUpdatedFrame' })

interface FrameDoc { schema: TSchema, name: string, title: string, summary: string, example: Record<string, unknown> }

const user = { id: 1, username: 'anagh', first_name: 'Anagh', last_name: 'Singh' }
const message = {
  id: 812,
  room: '2nd_year',
  seq: 41,
  message: 'Hello, world!',
  message_type: 'text',
  sender: user,
  created_at: '2025-02-13T10:00:00.000Z',
  client_id: null,
  rev: 57,
  edited_at: null,
  deleted: false,
  reply_to: null,
  reactions: [],
  mentions: []
}

/** Every client → server frame: the schemas the server compiles to check them (src/chat/protocol.ts). */
export const clientFrames = {
  message: {
    schema: SendFrame,
    name: 'SendFrame',
    title: 'Send a message',
    summary: 'A message to store and broadcast. `message` is 1..4000 characters after trimming (for `image` and `file`, ' +
      'the attachment\'s http(s) URL); `message_type` defaults to `text`; a `client_id` (1..64 characters) makes a ' +
      'retry idempotent: the same `client_id` from the same user in the same room is stored once. The stored message ' +
      'comes back as a `message` frame (the acknowledgement), or the frame is refused with an `error` frame. A resent ' +
      '`client_id` stores nothing: a socket that already holds that message gets no second copy, one that does not gets ' +
      'the stored message. `reply_to` (a message id of this room, not deleted; else `validation_error` on `/reply_to`) ' +
      'makes it a reply; `@username` of a member in the text becomes a mention.',
    example: { message: 'Hello, world!', message_type: 'text', client_id: 'b6f1c2e0-5d1a' }
  },
  typing: {
    schema: TypingFrame,
    name: 'TypingFrame',
    title: 'Typing',
    summary: 'Others in the room get a `typing` frame; the server forwards at most one per user per room every 2 s.',
    example: { type: 'typing' }
  },
  read: {
    schema: ReadFrame,
    name: 'ReadFrame',
    title: 'Mark read',
    summary: 'Moves your read position forward to `seq` (never back; clamped to the room\'s last seq): it drives ' +
      'the room\'s `unread_count` and `unread_mentions`, and the room\'s other sockets get a `read` frame.',
    example: { type: 'read', seq: 41 }
  },
  ping: {
    schema: PingFrame,
    name: 'PingFrame',
    title: 'Ping',
    summary: 'Answered with a `pong` frame, for clients that cannot send protocol pings.',
    example: { type: 'ping' }
  }
} satisfies Record<string, FrameDoc>

/** Every server → client frame. */
export const serverFrames = {
  message: {
    schema: MessageFrame,
    name: 'MessageFrame',
    title: 'Message',
    summary: 'A stored message (the REST `Message` plus `type`), to every socket in the room, the sender\'s own ' +
      'included (its `client_id` is the acknowledgement). Sent only after the commit; with `message_updated` frames, ' +
      'in `rev` order, every change once, with no gap.',
    example: { type: 'message', ...message }
  },
  messageUpdated: {
    schema: MessageUpdatedFrame,
    name: 'MessageUpdatedFrame',
    title: 'Message changed',
    summary: 'The full current state of a message that was edited, deleted (a tombstone: `message` "", `reactions` [], ' +
      '`reply_to` null, `deleted` true) or reacted to, with its new `rev`; to every socket in the room after the commit. ' +
      'Upsert it by `id`, and keep the highest `rev` seen to resume with `last_rev`.',
    example: { type: 'message_updated', ...message, rev: 58, reactions: [{ emoji: '👍', count: 1, user_ids: [2] }] }
  },
  error: {
    schema: ErrorFrame,
    name: 'ErrorFrame',
    title: 'Frame refused',
    summary: 'The last frame was refused and nothing was stored; the socket stays open. Carries the refused frame\'s ' +
      '`client_id` when it had one. `invalid_json`, `validation_error`: fix the frame; `throttled`, `unavailable`: ' +
      'retry later with the same `client_id`.',
    example: { type: 'error', code: 'validation_error', detail: '/message: must be 1 to 4000 characters after trimming' }
  },
  typing: {
    schema: TypingEvent,
    name: 'TypingEvent',
    title: 'Someone is typing',
    summary: 'Ephemeral, not stored; show it for 5 s.',
    example: { type: 'typing', user }
  },
  presence: {
    schema: PresenceEvent,
    name: 'PresenceEvent',
    title: 'Presence',
    summary: 'To the others in the room: a user came online in it (their first socket) or went offline (their last). ' +
      'Ephemeral, not stored.',
    example: { type: 'presence', user, online: true }
  },
  read: {
    schema: ReadEvent,
    name: 'ReadEvent',
    title: 'Read position',
    summary: 'A member read the room up to `seq` (a `read` frame or `POST …/read/`): to every socket in the room but ' +
      'the one that sent the `read` frame, the reader\'s other devices included. At most one per user and room per ' +
      'second; the latest position always arrives.',
    example: { type: 'read', user, seq: 41 }
  },
  pong: {
    schema: PongFrame,
    name: 'PongFrame',
    title: 'Pong',
    summary: 'The answer to a `ping` frame.',
    example: { type: 'pong' }
  }
} satisfies Record<string, FrameDoc>

/** The close-code table (docs/api.md); typed by CloseCode so a new code cannot go undocumented. */
const closeCodes: Record<keyof typeof CloseCode, { meaning: string, clientShould: string }> = {
  normal: { meaning: 'normal close', clientShould: 'nothing' },
  goingAway: { meaning: 'server shutting down', clientShould: 'reconnect (any instance) with `last_rev` (or `last_seq`), with backoff' },
  tooBig: { meaning: 'frame over 64 KiB', clientShould: 'fix the client; reconnect' },
  serverError: { meaning: 'server error', clientShould: 'reconnect with `last_rev` (or `last_seq`), with backoff' },
  tokenRevoked: { meaning: 'token revoked (logout)', clientShould: 'stop; log in again' },
  removed: { meaning: 'removed from the room', clientShould: 'stop for this room' },
  roomDeleted: { meaning: 'room deleted', clientShould: 'stop for this room' },
  tooSlow: {
    meaning: 'the client stopped reading (send buffer over its bound) or missed heartbeats',
    clientShould: 'reconnect with `last_rev` (or `last_seq`)'
  }
}

/** The handshake's refusals: an HTTP status and the REST `ErrorResponse` body, before any upgrade. */
const handshakeRefusals: Record<number, { codes: string[], when: string }> = {
  400: { codes: ['validation_error'], when: 'a bad room name, `last_seq` or `last_rev`, both of them at once, or a request that is not an upgrade' },
  401: { codes: ['not_authenticated', 'authentication_failed'], when: 'no token, or an unknown or revoked one' },
  403: { codes: ['permission_denied'], when: 'a public room the caller is not a member of' },
  404: { codes: ['not_found'], when: 'no such room, or a private room the caller is not in' },
  429: { codes: ['throttled'], when: 'rate limit hit (retry after `Retry-After` seconds), or too many open sockets for the user' },
  500: { codes: ['server_error'], when: 'a bug' },
  503: { codes: ['unavailable'], when: 'the database or the broker is down; retry with backoff' }
}

/**
 * A TypeBox schema as an AsyncAPI (JSON Schema) one: the same JSON, with `$ref`s to shared schemas pointing at
 * components. The payloads are the schemas the server validates and serializes with, so they cannot drift.
 */
function componentSchema (schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) => {
    if (key === '$ref' && typeof value === 'string' && !value.startsWith('#')) return `#/components/schemas/${value}`
    return value
  }) as Record<string, unknown>
}

const withoutId = ({ $id: _id, ...schema }: Record<string, unknown>) => schema

const table = (head: string[], rows: string[][]) =>
  [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')

const channelDescription = [
  'One raw WebSocket (RFC 6455, JSON text frames) per room. The token comes from the `Authorization: Token <token>` ' +
  'header of the upgrade request (preferred: URLs end up in proxy logs), `?token=`, or the subprotocol pair ' +
  '`Sec-WebSocket-Protocol: chat, token.<token>` (the server then answers `chat`).',
  'Every change to the room\'s messages (new, edit, deletion, reaction) takes the room\'s next `rev`. With ' +
  '`last_rev=<n>`, the server first sends every message with `rev > n`, in rev order, in its current state (as ' +
  '`message` for messages created after rev n, as `message_updated` for older ones changed since), then live frames, ' +
  'with no gap and no duplicate in between. With `last_seq=<n>` (0.1), every message with `seq > n`, in its current ' +
  'state, as `message` frames, then live ones. Not both at once.',
  'The handshake is refused with an HTTP status and the REST `ErrorResponse` body, before any upgrade ' +
  '(`x-handshake-refusals` lists them):',
  table(['status', 'code', 'when'], Object.entries(handshakeRefusals).map(([status, { codes, when }]) =>
    [status, codes.map((code) => `\`${code}\``).join(', '), when])),
  'The server sends protocol pings every 25 s and closes a socket that misses two. Close codes, and what a client ' +
  'does next (`x-close-codes` lists them):',
  table(['code', 'meaning', 'client should'], Object.entries(closeCodes).map(([name, { meaning, clientShould }]) =>
    [String(CloseCode[name as keyof typeof CloseCode]), meaning, clientShould]))
].join('\n\n')

const messageObject = (frame: FrameDoc) => ({
  name: frame.name,
  title: frame.title,
  summary: frame.summary,
  contentType: 'application/json',
  payload: { $ref: `#/components/schemas/${frame.name}` },
  examples: [{ name: frame.name, payload: frame.example }]
})

const operation = (action: 'send' | 'receive', frame: FrameDoc) => ({
  action,
  channel: { $ref: '#/channels/room' },
  title: frame.title,
  summary: frame.summary.split('. ')[0]!.replace(/\.$/, ''),
  messages: [{ $ref: `#/channels/room/messages/${frame.name}` }]
})

/** The AsyncAPI 3 document of the room socket, served at /docs/asyncapi and committed as asyncapi.yaml. */
export function asyncApiDocument (): Record<string, unknown> {
  const frames = [...Object.values(clientFrames), ...Object.values(serverFrames)] as FrameDoc[]
  const operations = (action: 'send' | 'receive', table: Record<string, FrameDoc>) => Object.entries(table)
    .map(([name, frame]) => [`${action}${name[0]!.toUpperCase()}${name.slice(1)}`, operation(action, frame)])
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat backend socket',
      version: '1.0.0',
      description: 'The room WebSocket of the chat backend. The REST API is described by the OpenAPI document at ' +
        '`/docs/json`; its `Message` and `User` schemas are the ones below.'
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: 'localhost:8000',
        protocol: 'ws',
        description: 'Where `npm start` listens. Behind TLS the same paths are served over `wss`.',
        security: [
          { $ref: '#/components/securitySchemes/tokenHeader' },
          { $ref: '#/components/securitySchemes/tokenQuery' },
          { $ref: '#/components/securitySchemes/tokenSubprotocol' }
        ]
      }
    },
    channels: {
      room: {
        address: '/ws/chat/{room_name}/',
        title: 'Room chat',
        description: channelDescription,
        parameters: {
          room_name: {
            description: `The room's name: ${RoomName.minLength}..${RoomName.maxLength} characters of ` +
              '`A-Z a-z 0-9 _ - .`.',
            examples: ['2nd_year']
          }
        },
        messages: Object.fromEntries(frames.map((frame) => [frame.name, messageObject(frame)])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: { type: 'string', description: 'The token, for clients that cannot set a header.' },
                last_seq: {
                  type: 'integer',
                  minimum: 0,
                  description: 'Replay every stored message with `seq` above this first, then go live.'
                },
                last_rev: {
                  type: 'integer',
                  minimum: 0,
                  description: 'Replay every message changed after this rev first (current state), then go live. Not with `last_seq`.'
                }
              },
              additionalProperties: false
            },
            headers: {
              type: 'object',
              properties: {
                Authorization: { type: 'string', description: '`Token <token>` (or `Bearer <token>`).' },
                'Sec-WebSocket-Protocol': { type: 'string', description: '`chat, token.<token>` for browsers.' }
              }
            },
            bindingVersion: '0.1.0'
          }
        },
        'x-handshake-refusals': Object.entries(handshakeRefusals).map(([status, { codes, when }]) =>
          ({ status: Number(status), codes, when })),
        'x-close-codes': Object.entries(closeCodes).map(([name, { meaning, clientShould }]) =>
          ({ code: CloseCode[name as keyof typeof CloseCode], meaning, clientShould }))
      }
    },
    operations: Object.fromEntries([...operations('send', clientFrames), ...operations('receive', serverFrames)]),
    components: {
      schemas: {
        User: withoutId(componentSchema(User)),
        ReplyTo: withoutId(componentSchema(ReplyTo)),
        Reaction: withoutId(componentSchema(Reaction)),
        Message: withoutId(componentSchema(Message)),
        ErrorResponse: withoutId(componentSchema(ErrorResponse)),
        ...Object.fromEntries(frames.map((frame) => [frame.name, withoutId(componentSchema(frame.schema))]))
      },
      securitySchemes: {
        tokenHeader: {
          type: 'httpApiKey',
          in: 'header',
          name: 'Authorization',
          description: '`Authorization: Token <token>` on the upgrade request (OkHttp can set it). Preferred.'
        },
        tokenQuery: {
          type: 'httpApiKey',
          in: 'query',
          name: 'token',
          description: '`?token=<token>`, as mobile clients such as OkHttp often send it. URLs reach proxy logs: prefer the header.'
        },
        tokenSubprotocol: {
          type: 'httpApiKey',
          in: 'header',
          name: 'Sec-WebSocket-Protocol',
          description: '`Sec-WebSocket-Protocol: chat, token.<token>`, for browsers that can set neither; the server ' +
            'answers `chat`.'
        }
      }
    }
  }
}

/** The document as YAML, as served and committed. */
export const asyncApiYaml = () => toYaml(asyncApiDocument())
