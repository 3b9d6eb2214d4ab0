/* eslint-disable @stylistic/no-multi-spaces -- the matrix below is a table, aligned by column */
import { eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { roomMembers, rooms, users } from '../../src/db/schema/index.js'
import { api, createRoom, openSocket, refusal, register, uniqueName, type Account } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

// The authorization matrix of the API (docs/api.md, "Private rooms do not leak", "Direct messages"): every route
// and the socket handshake, for every kind of caller, on a public, a private and a direct room, as ONE table below.
// One server for the file; the limits are raised so that the cells and their fixtures never meet a 429.
const server = await startServer(t, { RATE_LIMIT_AUTH_PER_IP: '100000', RATE_LIMIT_REST_PER_TOKEN: '100000' })

const CALLERS = ['none', 'malformed', 'revoked', 'stranger', 'member', 'owner', 'staff'] as const
type Caller = typeof CALLERS[number]
/** A direct room is the owner's and the member's (see makeFixture): 'owner' and 'member' are its two members. */
type Privacy = 'public' | 'private' | 'direct'

/** `<status> <error code>` for a refusal, `<status> <shape>` for a success (see SHAPES), `204` for no content. */
type Outcome = string
const A401 = '401 not_authenticated'
const F401 = '401 authentication_failed'
const P403 = '403 permission_denied'
const N404 = '404 not_found'
const C409 = '409 conflict'

/**
 * The matrix. Columns: the route, the room it is used on (null: the route involves no room), then the outcome for
 * each caller: no token, a malformed token, a revoked token (the owner's, logged out), a stranger (signed in, not a
 * member), a member, the owner, and staff (not a member). Every cell runs against the live server.
 */
const MATRIX: Array<[route: RouteName, room: Privacy | null, ...outcomes: Outcome[]]> = [
  // route                                                     room        no token  malformed  revoked  stranger              member               owner                staff
  ['GET /api/auth/me/',                                         null,       A401,     F401,      F401,    '200 Me',             '200 Me',            '200 Me',            '200 Me'],
  ['POST /api/auth/logout/',                                    null,       A401,     F401,      F401,    '204',                '204',               '204',               '204'],
  ['POST /api/chat/groups/ (a new name)',                       null,       A401,     F401,      F401,    '201 NewRoom',        '201 NewRoom',       '201 NewRoom',       '201 NewRoom'],
  ['POST /api/chat/groups/ (the room\'s name)',                 'public',   A401,     F401,      F401,    C409,                 C409,                C409,                C409],
  ['POST /api/chat/groups/ (the room\'s name)',                 'private',  A401,     F401,      F401,    C409,                 C409,                C409,                C409],
  ['GET /api/chat/groups/',                                     'public',   A401,     F401,      F401,    '200 NotMine',        '200 Mine',          '200 Mine',          '200 NotMine'],
  ['GET /api/chat/groups/',                                     'private',  A401,     F401,      F401,    '200 NotMine',        '200 Mine',          '200 Mine',          '200 NotMine'],
  ['GET /api/chat/groups/',                                     'direct',   A401,     F401,      F401,    '200 NotMine',        '200 Mine',          '200 Mine',          '200 NotMine'],
  ['GET /api/chat/groups/<room>/',                              'public',   A401,     F401,      F401,    '200 Room',           '200 Room',          '200 Room',          '200 Room'],
  ['GET /api/chat/groups/<room>/',                              'private',  A401,     F401,      F401,    N404,                 '200 Room',          '200 Room',          '200 Room'],
  ['GET /api/chat/groups/<room>/',                              'direct',   A401,     F401,      F401,    N404,                 '200 Room',          '200 Room',          N404],
  ['PATCH /api/chat/groups/<room>/',                            'public',   A401,     F401,      F401,    P403,                 P403,                '200 Patched',       '200 Patched'],
  ['PATCH /api/chat/groups/<room>/',                            'private',  A401,     F401,      F401,    N404,                 P403,                '200 Patched',       '200 Patched'],
  ['PATCH /api/chat/groups/<room>/',                            'direct',   A401,     F401,      F401,    N404,                 P403,                P403,                N404],
  ['DELETE /api/chat/groups/<room>/',                           'public',   A401,     F401,      F401,    P403,                 P403,                '204',               '204'],
  ['DELETE /api/chat/groups/<room>/',                           'private',  A401,     F401,      F401,    N404,                 P403,                '204',               '204'],
  ['DELETE /api/chat/groups/<room>/',                           'direct',   A401,     F401,      F401,    N404,                 '204',               '204',               N404],
  ['GET /api/chat/groups/<room>/members/',                      'public',   A401,     F401,      F401,    P403,                 '200 Members',       '200 Members',       P403],
  ['GET /api/chat/groups/<room>/members/',                      'private',  A401,     F401,      F401,    N404,                 '200 Members',       '200 Members',       P403],
  ['GET /api/chat/groups/<room>/members/',                      'direct',   A401,     F401,      F401,    N404,                 '200 Members',       '200 Members',       N404],
  ['POST /api/chat/groups/<room>/members/',                     'public',   A401,     F401,      F401,    P403,                 P403,                '201 Added',         '201 Added'],
  ['POST /api/chat/groups/<room>/members/',                     'private',  A401,     F401,      F401,    N404,                 P403,                '201 Added',         '201 Added'],
  ['POST /api/chat/groups/<room>/members/',                     'direct',   A401,     F401,      F401,    N404,                 P403,                P403,                N404],
  ['DELETE /api/chat/groups/<room>/members/<another member>/',  'public',   A401,     F401,      F401,    P403,                 P403,                '204',               '204'],
  ['DELETE /api/chat/groups/<room>/members/<another member>/',  'private',  A401,     F401,      F401,    N404,                 P403,                '204',               '204'],
  ['DELETE /api/chat/groups/<room>/members/<another member>/',  'direct',   A401,     F401,      F401,    N404,                 P403,                P403,                N404],
  // Anyone removes themself; someone who is not a member has nothing to remove (404: no such member).
  ['DELETE /api/chat/groups/<room>/members/<self>/',            'public',   A401,     F401,      F401,    N404,                 '204',               '204',               N404],
  ['DELETE /api/chat/groups/<room>/members/<self>/',            'private',  A401,     F401,      F401,    N404,                 '204',               '204',               N404],
  ['DELETE /api/chat/groups/<room>/members/<self>/',            'direct',   A401,     F401,      F401,    N404,                 P403,                P403,                N404],
  ['POST /api/chat/groups/<room>/join/',                        'public',   A401,     F401,      F401,    '200 Room',           '200 Room',          '200 Room',          '200 Room'],
  ['POST /api/chat/groups/<room>/join/',                        'private',  A401,     F401,      F401,    N404,                 '200 Room',          '200 Room',          P403],
  ['POST /api/chat/groups/<room>/join/',                        'direct',   A401,     F401,      F401,    N404,                 '200 Room',          '200 Room',          N404],
  ['POST /api/chat/groups/<room>/leave/',                       'public',   A401,     F401,      F401,    '204',                '204',               '204',               '204'],
  ['POST /api/chat/groups/<room>/leave/',                       'private',  A401,     F401,      F401,    N404,                 '204',               '204',               '204'],
  ['POST /api/chat/groups/<room>/leave/',                       'direct',   A401,     F401,      F401,    N404,                 P403,                P403,                N404],
  ['GET /api/chat/groups/<room>/messages/',                     'public',   A401,     F401,      F401,    P403,                 '200 Messages',      '200 Messages',      P403],
  ['GET /api/chat/groups/<room>/messages/',                     'private',  A401,     F401,      F401,    N404,                 '200 Messages',      '200 Messages',      P403],
  ['GET /api/chat/groups/<room>/messages/',                     'direct',   A401,     F401,      F401,    N404,                 '200 Messages',      '200 Messages',      N404],
  ['POST /api/chat/groups/<room>/messages/',                    'public',   A401,     F401,      F401,    P403,                 '201 Message',       '201 Message',       P403],
  ['POST /api/chat/groups/<room>/messages/',                    'private',  A401,     F401,      F401,    N404,                 '201 Message',       '201 Message',       P403],
  ['POST /api/chat/groups/<room>/messages/',                    'direct',   A401,     F401,      F401,    N404,                 '201 Message',       '201 Message',       N404],
  ['GET /api/chat/groups/<room>/messages/<id>/',                'public',   A401,     F401,      F401,    P403,                 '200 Message',       '200 Message',       P403],
  ['GET /api/chat/groups/<room>/messages/<id>/',                'private',  A401,     F401,      F401,    N404,                 '200 Message',       '200 Message',       P403],
  ['GET /api/chat/groups/<room>/messages/<id>/',                'direct',   A401,     F401,      F401,    N404,                 '200 Message',       '200 Message',       N404],
  // The message is the owner's: only its sender edits it; its sender, the owner or staff (members all) delete it.
  ['PATCH /api/chat/groups/<room>/messages/<id>/',              'public',   A401,     F401,      F401,    P403,                 P403,                '200 Message',       P403],
  ['PATCH /api/chat/groups/<room>/messages/<id>/',              'private',  A401,     F401,      F401,    N404,                 P403,                '200 Message',       P403],
  ['PATCH /api/chat/groups/<room>/messages/<id>/',              'direct',   A401,     F401,      F401,    N404,                 P403,                '200 Message',       N404],
  ['DELETE /api/chat/groups/<room>/messages/<id>/',             'public',   A401,     F401,      F401,    P403,                 P403,                '204',               P403],
  ['DELETE /api/chat/groups/<room>/messages/<id>/',             'private',  A401,     F401,      F401,    N404,                 P403,                '204',               P403],
  // A direct room has no owner: the other member may not delete the message.
  ['DELETE /api/chat/groups/<room>/messages/<id>/',             'direct',   A401,     F401,      F401,    N404,                 P403,                '204',               N404],
  ['PUT /api/chat/groups/<room>/messages/<id>/reactions/<e>/',  'public',   A401,     F401,      F401,    P403,                 '200 Message',       '200 Message',       P403],
  ['PUT /api/chat/groups/<room>/messages/<id>/reactions/<e>/',  'private',  A401,     F401,      F401,    N404,                 '200 Message',       '200 Message',       P403],
  ['PUT /api/chat/groups/<room>/messages/<id>/reactions/<e>/',  'direct',   A401,     F401,      F401,    N404,                 '200 Message',       '200 Message',       N404],
  ['DELETE /api/chat/groups/<room>/messages/<id>/reactions/<e>/', 'public', A401,     F401,      F401,    P403,                 '200 Message',       '200 Message',       P403],
  ['DELETE /api/chat/groups/<room>/messages/<id>/reactions/<e>/', 'private', A401,    F401,      F401,    N404,                 '200 Message',       '200 Message',       P403],
  ['DELETE /api/chat/groups/<room>/messages/<id>/reactions/<e>/', 'direct', A401,      F401,      F401,    N404,                 '200 Message',       '200 Message',       N404],
  ['GET /api/chat/groups/<room>/changes/',                      'public',   A401,     F401,      F401,    P403,                 '200 Changes',       '200 Changes',       P403],
  ['GET /api/chat/groups/<room>/changes/',                      'private',  A401,     F401,      F401,    N404,                 '200 Changes',       '200 Changes',       P403],
  ['GET /api/chat/groups/<room>/changes/',                      'direct',   A401,     F401,      F401,    N404,                 '200 Changes',       '200 Changes',       N404],
  ['POST /api/chat/groups/<room>/read/',                        'public',   A401,     F401,      F401,    P403,                 '204',               '204',               P403],
  ['POST /api/chat/groups/<room>/read/',                        'private',  A401,     F401,      F401,    N404,                 '204',               '204',               P403],
  ['POST /api/chat/groups/<room>/read/',                        'direct',   A401,     F401,      F401,    N404,                 '204',               '204',               N404],
  ['GET /api/chat/search/?room=<room>',                         'public',   A401,     F401,      F401,    P403,                 '200 Found',         '200 Found',         P403],
  ['GET /api/chat/search/?room=<room>',                         'private',  A401,     F401,      F401,    N404,                 '200 Found',         '200 Found',         P403],
  ['GET /api/chat/search/?room=<room>',                         'direct',   A401,     F401,      F401,    N404,                 '200 Found',         '200 Found',         N404],
  ['POST /api/chat/direct/',                                    null,       A401,     F401,      F401,    '201 Direct',         '201 Direct',        '201 Direct',        '201 Direct'],
  ['GET /api/chat/all-groups/?search=<room>',                   'public',   A401,     F401,      F401,    '200 ListedVisitor',  '200 ListedMember',  '200 ListedMember',  '200 ListedVisitor'],
  ['GET /api/chat/all-groups/?search=<room>',                   'private',  A401,     F401,      F401,    '200 Unlisted',       '200 ListedMember',  '200 ListedMember',  '200 ListedVisitor'],
  ['GET /api/chat/all-groups/?search=<room>',                   'direct',   A401,     F401,      F401,    '200 Unlisted',       '200 ListedMember',  '200 ListedMember',  '200 Unlisted'],
  ['WS /ws/chat/<room>/',                                       'public',   A401,     F401,      F401,    P403,                 '101 Open',          '101 Open',          P403],
  ['WS /ws/chat/<room>/',                                       'private',  A401,     F401,      F401,    N404,                 '101 Open',          '101 Open',          P403],
  ['WS /ws/chat/<room>/',                                       'direct',   A401,     F401,      F401,    N404,                 '101 Open',          '101 Open',          N404],
]

// ---- fixtures --------------------------------------------------------------------------------------------------

const PASSWORD = 'correct horse'

/** The people of the matrix; registered once (a registration costs a password hash) and used in every room. */
interface Cast {
  owner: Account
  member: Account
  /** A second member, for removing someone other than oneself. */
  other: Account
  /** Someone in no room, for the owner to add. */
  outsider: Account
  stranger: Account
  staff: Account
  /** A token of the owner's, logged out. */
  revoked: string
}

/** A room of the cast's: the owner made it and added `member` and `other`. */
interface Fixture extends Cast {
  privacy: Privacy
  room: { id: number, name: string }
  /** The text and id of the one message in the room (seeded fixtures only). */
  seeded?: string
  seededId?: number
}

async function expectStatus (what: string, response: Promise<{ status: number, body: unknown }>, status: number) {
  const { status: got, body } = await response
  if (got !== status) throw new Error(`fixture: ${what} answered ${got} ${JSON.stringify(body)}`)
  return body
}

const login = async (account: Account) => (await expectStatus('login', api(server.url, 'POST', '/api/auth/login/',
  { body: { username: account.user.username, password: PASSWORD } }), 200) as { token: string }).token

async function makeCast (): Promise<Cast> {
  const [owner, member, other, outsider, stranger, staff] = await Promise.all(
    Array.from({ length: 6 }, () => register(server.url, uniqueName('mx'), PASSWORD)))
  await server.app.database.orm.update(users).set({ isStaff: true }).where(eq(users.id, staff!.user.id))
  const revoked = await login(owner!)
  await expectStatus('logout', api(server.url, 'POST', '/api/auth/logout/', { token: revoked }), 204)
  return { owner: owner!, member: member!, other: other!, outsider: outsider!, stranger: stranger!, staff: staff!, revoked }
}

const cast = await makeCast()

/**
 * A fresh room of the cast's. Destructive cells (delete, remove, join, leave) each get their own, so no cell
 * depends on what another did; a room changes no user, so the cast is shared.
 */
async function makeFixture (privacy: Privacy): Promise<Fixture> {
  if (privacy === 'direct') {
    // One direct room per pair: each fixture is a new pair, in the owner's and the member's places.
    const [owner, member] = await Promise.all([register(server.url, uniqueName('mx'), PASSWORD), register(server.url, uniqueName('mx'), PASSWORD)])
    const room = await expectStatus('direct', api(server.url, 'POST', '/api/chat/direct/',
      { token: owner!.token, body: { username: member!.user.username } }), 201) as { id: number, name: string }
    return { ...cast, owner: owner!, member: member!, privacy, room: { id: room.id, name: room.name } }
  }
  const room = await createRoom(server.url, cast.owner.token, { is_private: privacy === 'private' })
  await Promise.all([cast.member, cast.other].map((account) => expectStatus('add member', api(server.url, 'POST',
    `/api/chat/groups/${room.name}/members/`, { token: cast.owner.token, body: { username: account.user.username } }), 201)))
  return { ...cast, privacy, room: { id: room.id, name: room.name } }
}

/** A room for the cells that change nothing, with one message in its history. */
async function sharedFixture (privacy: Privacy): Promise<Fixture> {
  const fixture = await makeFixture(privacy)
  const seeded = uniqueName('seed')
  const socket = await openSocket(server.wsUrl, fixture.room.name, { token: fixture.owner.token })
  socket.send({ message: seeded })
  const stored = await socket.next((frame) => frame.type === 'message' && frame.message === seeded)
  socket.close()
  await socket.waitClose()
  return { ...fixture, seeded, seededId: stored.id }
}

const shared: Record<Privacy, Fixture> = {
  public: await sharedFixture('public'),
  private: await sharedFixture('private'),
  direct: await sharedFixture('direct')
}

/**
 * The token a caller sends. `fresh`: a new token of the caller's own (logout revokes the one it is sent with,
 * and the cast's tokens must keep working for the cells after it).
 */
async function tokenOf (f: Fixture, caller: Caller, fresh = false): Promise<string | undefined> {
  if (caller === 'none') return undefined
  if (caller === 'malformed') return 'not-a-token'
  if (caller === 'revoked') return f.revoked
  return fresh ? await login(f[caller]) : f[caller].token
}

/** The account a caller acts as: for callers without a valid token, the one their request names. */
function selfOf (f: Cast, caller: Caller): Account {
  if (caller === 'none' || caller === 'malformed') return f.member
  if (caller === 'revoked') return f.owner
  return f[caller]
}

// ---- routes ----------------------------------------------------------------------------------------------------

interface HttpRequest { method: string, path: string, body?: unknown }
type Request = HttpRequest | { socket: string }

/** Whether the room exists and who is in it, read straight from the database. */
interface RoomState { exists: boolean, members: number[] }

interface Route {
  /** The request for this cell; `name` is the fixture's room, or (for the leak check) a name never created. */
  request: (f: Fixture, caller: Caller, name: string) => Request
  /** Destructive: each cell gets a fresh fixture, and the room's state after a success must be this. */
  effect?: (f: Fixture, caller: Caller, before: RoomState) => RoomState
  /** Revokes the token it is sent with: the caller sends a fresh one of their own, which must stop working. */
  revokes?: boolean
  /** Changes the room's messages: each cell gets a fresh room with one message of the owner's. */
  writes?: boolean
}

const group = (name: string, rest = '') => ({ path: `/api/chat/groups/${name}/${rest}` })
const without = (state: RoomState, id: number) => ({ ...state, members: state.members.filter((m) => m !== id) })
const plus = (state: RoomState, id: number) => ({ ...state, members: [...new Set([...state.members, id])].sort((a, b) => a - b) })

const ROUTES = {
  'GET /api/auth/me/': { request: () => ({ method: 'GET', path: '/api/auth/me/' }) },
  'POST /api/auth/logout/': { request: () => ({ method: 'POST', path: '/api/auth/logout/' }), revokes: true },
  'POST /api/chat/groups/ (a new name)': {
    request: () => ({ method: 'POST', path: '/api/chat/groups/', body: { name: uniqueName('new') } })
  },
  'POST /api/chat/groups/ (the room\'s name)': {
    request: (_f, _caller, name) => ({ method: 'POST', path: '/api/chat/groups/', body: { name } })
  },
  'GET /api/chat/groups/': { request: () => ({ method: 'GET', path: '/api/chat/groups/' }) },
  'GET /api/chat/groups/<room>/': { request: (_f, _caller, name) => ({ method: 'GET', ...group(name) }) },
  'PATCH /api/chat/groups/<room>/': {
    request: (_f, caller, name) => ({ method: 'PATCH', ...group(name), body: { description: `changed by ${caller}` } })
  },
  'DELETE /api/chat/groups/<room>/': {
    request: (_f, _caller, name) => ({ method: 'DELETE', ...group(name) }),
    effect: () => ({ exists: false, members: [] })
  },
  'GET /api/chat/groups/<room>/members/': { request: (_f, _caller, name) => ({ method: 'GET', ...group(name, 'members/') }) },
  'POST /api/chat/groups/<room>/members/': {
    request: (f, _caller, name) => ({ method: 'POST', ...group(name, 'members/'), body: { username: f.outsider.user.username } }),
    effect: (f, _caller, before) => plus(before, f.outsider.user.id)
  },
  'DELETE /api/chat/groups/<room>/members/<another member>/': {
    request: (f, _caller, name) => ({ method: 'DELETE', ...group(name, `members/${f.other.user.username}/`) }),
    effect: (f, _caller, before) => without(before, f.other.user.id)
  },
  'DELETE /api/chat/groups/<room>/members/<self>/': {
    request: (f, caller, name) => ({ method: 'DELETE', ...group(name, `members/${selfOf(f, caller).user.username}/`) }),
    effect: (f, caller, before) => without(before, selfOf(f, caller).user.id)
  },
  'POST /api/chat/groups/<room>/join/': {
    request: (_f, _caller, name) => ({ method: 'POST', ...group(name, 'join/') }),
    effect: (f, caller, before) => plus(before, selfOf(f, caller).user.id)
  },
  'POST /api/chat/groups/<room>/leave/': {
    request: (_f, _caller, name) => ({ method: 'POST', ...group(name, 'leave/') }),
    effect: (f, caller, before) => without(before, selfOf(f, caller).user.id)
  },
  'GET /api/chat/groups/<room>/messages/': { request: (_f, _caller, name) => ({ method: 'GET', ...group(name, 'messages/') }) },
  'POST /api/chat/groups/<room>/messages/': {
    request: (_f, caller, name) => ({ method: 'POST', ...group(name, 'messages/'), body: { message: `sent by ${caller}` } }),
    writes: true
  },
  'GET /api/chat/groups/<room>/messages/<id>/': {
    request: (f, _caller, name) => ({ method: 'GET', ...group(name, `messages/${f.seededId}/`) })
  },
  'PATCH /api/chat/groups/<room>/messages/<id>/': {
    request: (f, caller, name) => ({ method: 'PATCH', ...group(name, `messages/${f.seededId}/`), body: { message: `edited by ${caller}` } }),
    writes: true
  },
  'DELETE /api/chat/groups/<room>/messages/<id>/': {
    request: (f, _caller, name) => ({ method: 'DELETE', ...group(name, `messages/${f.seededId}/`) }),
    writes: true
  },
  'PUT /api/chat/groups/<room>/messages/<id>/reactions/<e>/': {
    request: (f, _caller, name) => ({ method: 'PUT', ...group(name, `messages/${f.seededId}/reactions/%F0%9F%91%8D/`) }),
    writes: true
  },
  'DELETE /api/chat/groups/<room>/messages/<id>/reactions/<e>/': {
    request: (f, _caller, name) => ({ method: 'DELETE', ...group(name, `messages/${f.seededId}/reactions/%F0%9F%91%8D/`) }),
    writes: true
  },
  'GET /api/chat/groups/<room>/changes/': { request: (_f, _caller, name) => ({ method: 'GET', ...group(name, 'changes/') }) },
  'POST /api/chat/groups/<room>/read/': { request: (_f, _caller, name) => ({ method: 'POST', ...group(name, 'read/'), body: { seq: 1 } }) },
  'GET /api/chat/search/?room=<room>': {
    request: (f, _caller, name) => ({ method: 'GET', path: `/api/chat/search/?q=${f.seeded}&room=${name}` })
  },
  'POST /api/chat/direct/': {
    request: (f) => ({ method: 'POST', path: '/api/chat/direct/', body: { username: f.outsider.user.username } })
  },
  'GET /api/chat/all-groups/?search=<room>': {
    request: (_f, _caller, name) => ({ method: 'GET', path: `/api/chat/all-groups/?search=${name}` })
  },
  'WS /ws/chat/<room>/': { request: (_f, _caller, name) => ({ socket: name }) }
} satisfies Record<string, Route>
type RouteName = keyof typeof ROUTES

// ---- what a success looks like ---------------------------------------------------------------------------------

const USER_KEYS = ['first_name', 'id', 'last_name', 'username']
const ROOM_KEYS = ['created_at', 'description', 'id', 'is_direct', 'is_private', 'last_message', 'last_read_seq', 'members_count',
  'name', 'peer', 'rev', 'room_avatar', 'unread_count', 'unread_mentions', 'updated_at']
const MEMBER_KEYS = [...USER_KEYS, 'last_read_seq', 'online'].sort()
const MESSAGE_KEYS = ['client_id', 'created_at', 'deleted', 'edited_at', 'id', 'mentions', 'message', 'message_type', 'reactions', 'reply_to', 'rev', 'room', 'sender', 'seq']
const PAGE_KEYS = ['next', 'previous', 'results']
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

interface Cell { f: Fixture, caller: Caller, request: Request, body: any }

function isRoom (t: Test, body: any, f: Fixture) {
  t.same(Object.keys(body ?? {}).sort(), ROOM_KEYS, 'exactly the Room fields')
  t.equal(body?.id, f.room.id, 'the room')
  t.equal(body?.name, f.room.name)
  t.equal(body?.is_private, f.privacy !== 'public')
  t.equal(body?.is_direct, f.privacy === 'direct')
  t.match(body?.updated_at, ISO_UTC, 'updated_at is ISO-8601 UTC')
}

function isListed (t: Test, { f, body }: Cell, isMember: boolean | undefined) {
  t.same(Object.keys(body ?? {}).sort(), PAGE_KEYS, 'a page')
  // The search is the room's own unique name: the page holds that room or nothing.
  if (isMember === undefined) return t.same(body?.results, [], 'the room is not listed')
  const found = (body?.results ?? []).filter((room: { name: string }) => room.name === f.room.name)
  t.equal(found.length, 1, 'the room is listed once')
  t.same(Object.keys(found[0] ?? {}).sort(), [...ROOM_KEYS, 'is_member'].sort(), 'a Room plus is_member')
  t.equal(found[0]?.is_member, isMember, `is_member is ${isMember}`)
}

function isJoinedList (t: Test, { f, body }: Cell, listed: boolean) {
  t.ok(Array.isArray(body), 'a plain array')
  for (const room of body ?? []) t.same(Object.keys(room).sort(), ROOM_KEYS, 'exactly the Room fields')
  const names = (body ?? []).map((room: { name: string }) => room.name)
  t.equal(names.includes(f.room.name), listed, listed ? 'the room is listed' : 'the room is not listed')
}

/** The check of each success shape named in the matrix. */
const SHAPES: Record<string, (t: Test, cell: Cell) => unknown> = {
  Me: (t, { f, caller, body }) => t.same(body, selfOf(f, caller).user, 'the caller, exactly the User fields'),
  NewRoom: (t, { request, body }) => {
    t.same(Object.keys(body ?? {}).sort(), ROOM_KEYS, 'exactly the Room fields')
    t.equal(body?.name, (request as { body: { name: string } }).body.name, 'the name asked for')
    t.equal(body?.members_count, 1, 'the creator is its only member')
  },
  Room: (t, { f, body }) => isRoom(t, body, f),
  Patched: (t, { f, caller, body }) => {
    isRoom(t, body, f)
    t.equal(body?.description, `changed by ${caller}`, 'the new description')
  },
  Members: (t, { f, body }) => {
    t.ok(Array.isArray(body), 'a plain array')
    for (const user of body ?? []) t.same(Object.keys(user).sort(), MEMBER_KEYS, 'exactly the Member fields')
    const expected = f.privacy === 'direct' ? [f.owner, f.member] : [f.owner, f.member, f.other]
    t.same((body ?? []).map((user: { id: number }) => user.id).sort((a: number, b: number) => a - b),
      expected.map((a) => a.user.id).sort((a, b) => a - b), 'the owner and the members')
  },
  Added: (t, { f, body }) => t.same(body, f.outsider.user, 'the added user, exactly the User fields'),
  Mine: (t, cell) => isJoinedList(t, cell, true),
  NotMine: (t, cell) => isJoinedList(t, cell, false),
  Messages: (t, { f, body }) => {
    t.same(Object.keys(body ?? {}).sort(), PAGE_KEYS, 'a page')
    t.equal(body?.results?.length, 1, 'the one message')
    const [message] = body?.results ?? []
    t.same(Object.keys(message ?? {}).sort(), MESSAGE_KEYS, 'exactly the Message fields')
    t.match(message, { room: f.room.name, seq: 1, message: f.seeded, sender: f.owner.user })
  },
  ListedMember: (t, cell) => isListed(t, cell, true),
  ListedVisitor: (t, cell) => isListed(t, cell, false),
  Unlisted: (t, cell) => isListed(t, cell, undefined),
  Open: (t, { body }) => t.same(body, { type: 'pong' }, 'the open socket answers a ping'),
  Message: (t, { f, body }) => {
    t.same(Object.keys(body ?? {}).sort(), MESSAGE_KEYS, 'exactly the Message fields')
    t.equal(body?.room, f.room.name, 'a message of the room')
  },
  Found: (t, { f, body }) => {
    t.same(Object.keys(body ?? {}).sort(), PAGE_KEYS, 'a page')
    t.same(body?.results?.map((m: { id: number }) => m.id), [f.seededId], 'the one message with those words')
  },
  Direct: (t, { f, body }) => {
    t.same(Object.keys(body ?? {}).sort(), ROOM_KEYS, 'exactly the Room fields')
    t.match(body, { is_direct: true, is_private: true, members_count: 2, peer: f.outsider.user })
  },
  Changes: (t, { f, body }) => {
    t.same(Object.keys(body ?? {}).sort(), ['has_more', 'results', 'rev'], 'a changes page')
    t.same(body?.results?.map((m: { message: string }) => m.message), [f.seeded], 'the one message')
  }
}

// ---- running a cell --------------------------------------------------------------------------------------------

interface Answer { status: number, text: string, contentType: string | null, body: any }

/** A REST call that keeps the raw body, so two answers can be compared byte for byte. */
async function http (request: HttpRequest, token: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Token ${token}`
  let body: string | undefined
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(request.body)
  }
  const response = await fetch(new URL(request.path, server.url),
    { method: request.method, headers, body, signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  let parsed: unknown = text
  try { parsed = text === '' ? null : JSON.parse(text) } catch {}
  return { status: response.status, text, contentType: response.headers.get('content-type'), body: parsed }
}

/** A refused handshake's status and raw body (refusal() parses it; the leak check compares bytes). */
function refusedHandshake (room: string, token: string | undefined): Promise<Answer> {
  const query = token === undefined ? '' : `?token=${token}`
  const socket = new WebSocket(`${server.wsUrl}/ws/chat/${room}/${query}`, { handshakeTimeout: 5000 })
  socket.on('error', () => {})
  return new Promise((resolve, reject) => {
    socket.once('open', () => { socket.close(); reject(new Error('the handshake was accepted')) })
    socket.once('unexpected-response', (_request, response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({
        status: response.statusCode ?? 0, text, contentType: response.headers['content-type'] ?? null, body: null
      }))
    })
    socket.once('error', reject)
  })
}

/** The socket handshake of a cell: open (and answering a ping) or refused with an HTTP status. */
async function handshake (room: string, token: string | undefined, expectOpen: boolean): Promise<Answer> {
  if (!expectOpen) return { ...await refusal(openSocket(server.wsUrl, room, { token })), text: '', contentType: null }
  const socket = await openSocket(server.wsUrl, room, { token })
  try {
    socket.send({ type: 'ping' })
    return { status: 101, text: '', contentType: null, body: await socket.next((frame) => frame.type === 'pong') }
  } finally {
    socket.close()
  }
}

async function roomState (roomId: number): Promise<RoomState> {
  const { orm: db } = server.app.database
  const found = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.id, roomId))
  const members = await db.select({ userId: roomMembers.userId }).from(roomMembers).where(eq(roomMembers.roomId, roomId))
  return { exists: found.length === 1, members: members.map((m) => m.userId).sort((a, b) => a - b) }
}

async function lastRev (roomId: number): Promise<number | undefined> {
  const [room] = await server.app.database.orm.select({ lastRev: rooms.lastRev }).from(rooms).where(eq(rooms.id, roomId))
  return room?.lastRev
}

function parseOutcome (outcome: Outcome): { status: number, detail: string | undefined } {
  const [status, detail] = outcome.split(' ')
  return { status: Number(status), detail }
}

async function runCell (t: Test, route: Route, privacy: Privacy | null, caller: Caller, outcome: Outcome) {
  const expected = parseOutcome(outcome)
  const f = route.writes === true
    ? await sharedFixture(privacy ?? 'public')
    : route.effect === undefined ? shared[privacy ?? 'public'] : await makeFixture(privacy ?? 'public')
  const token = await tokenOf(f, caller, route.revokes)
  const request = route.request(f, caller, f.room.name)
  const before = route.effect === undefined ? undefined : await roomState(f.room.id)
  const revBefore = route.writes === true ? await lastRev(f.room.id) : undefined

  const answer = 'socket' in request
    ? await handshake(request.socket, token, expected.status === 101)
    : await http(request, token)
  t.equal(answer.status, expected.status, `status ${expected.status}`)

  if (expected.status >= 400) {
    t.equal(answer.body?.code, expected.detail, `code ${expected.detail}`)
    t.type(answer.body?.detail, 'string', 'a detail')
    t.same(Object.keys(answer.body ?? {}).sort(), ['code', 'detail'], 'exactly the error body fields')
  } else if (expected.detail !== undefined) {
    await SHAPES[expected.detail]!(t, { f, caller, request, body: answer.body })
  } else {
    t.equal(answer.text, '', 'no content')
  }

  const succeeded = expected.status < 300
  if (revBefore !== undefined && !succeeded) t.equal(await lastRev(f.room.id), revBefore, 'a refusal stores nothing and takes no rev')
  if (route.effect !== undefined && before !== undefined) {
    t.same(await roomState(f.room.id), succeeded ? route.effect(f, caller, before) : before,
      succeeded ? 'the room changed as asked' : 'the room did not change')
  }
  if (route.revokes === true && succeeded) {
    const me = (token?: string) => http({ method: 'GET', path: '/api/auth/me/' }, token)
    t.equal((await me(token)).body?.code, 'authentication_failed', 'the token used no longer works')
    t.equal((await me(selfOf(f, caller).token)).status, 200, 'the user\'s other tokens still work')
  }

  // Private rooms must not leak: the stranger's 404 is, byte for byte, the 404 for a name never created.
  if (privacy !== 'public' && privacy !== null && caller === 'stranger' && expected.status === 404) {
    const never = route.request(f, caller, uniqueName('never'))
    const [hidden, absent] = 'socket' in request && 'socket' in never
      ? [await refusedHandshake(request.socket, token), await refusedHandshake(never.socket, token)]
      : [await http(request as HttpRequest, token), await http(never as HttpRequest, token)]
    t.equal(hidden.status, absent.status, 'the same status as a room never created')
    t.equal(hidden.contentType, absent.contentType, 'the same content type as a room never created')
    t.equal(hidden.text, absent.text, 'byte for byte the body for a room never created')
  }
}

for (const [name, privacy, ...outcomes] of MATRIX) {
  const route: Route = ROUTES[name]
  t.test(privacy === null ? name : `${name} on a ${privacy} room`, async (t) => {
    t.equal(outcomes.length, CALLERS.length, 'the row has an outcome for every caller')
    for (const [index, caller] of CALLERS.entries()) {
      const outcome = outcomes[index]!
      await t.test(`${caller} gets ${outcome}`, (t) => runCell(t, route, privacy, caller, outcome))
    }
  })
}
