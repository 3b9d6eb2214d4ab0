import type { Query } from './client.js'
import { toMessage } from './mappers.js'
import type { MessageRow } from './schema/index.js'
import { mentionedNames, normalizeText, searchVector } from '../chat/message-text.js'
import type { Message, Reaction } from '../schemas/messages.js'

/** Distinct emojis one message may carry. */
const MAX_EMOJIS = 50
/** Users named in a reaction's `user_ids`. */
const SHOWN_REACTORS = 50

interface ChangeTarget {
  roomId: number
  roomName: string
  /** Who asks; staff may delete any message. */
  actor: { id: number, isStaff: boolean }
  messageId: number
}

/** What the change does. */
export type ChangeKind =
  | { kind: 'edit', message: string }
  | { kind: 'delete' }
  | { kind: 'react', emoji: string }
  | { kind: 'unreact', emoji: string }

export type ChangeRequest = ChangeTarget & ChangeKind

export type ChangeRefusal = 'not_member' | 'room_gone' | 'not_found' | 'forbidden' | 'too_many_emojis' | 'invalid_message'

/** A change that was refused: nothing of it was stored, and it took no rev. */
export class ChangeRefused extends Error {
  constructor (readonly reason: ChangeRefusal, message: string) {
    super(message)
  }
}

export interface ChangeResult {
  /** The message after the change (its current state when nothing changed). */
  message: Message
  /** false when the change was already so (the same text, a reaction that was there): nothing was stored. */
  changed: boolean
}

/** Who reacted to one message with one emoji, in reaction order: as read (`initial`) and as changed by the batch. */
interface Reactors {
  messageId: number
  emoji: string
  initial: number[]
  users: number[]
  /** Users who took the reaction back and made it again in this batch: their row moves to the end. */
  readded: Set<number>
}

/** A new state of a message with its own rev: one `message_updated` frame. */
export interface CommittedChange { roomId: number, message: Message }

interface Row extends MessageRow {
  username: string
  firstName: string
  lastName: string
}

const MESSAGE_COLUMNS = `m.id::float8 as id, m.room_id as "roomId", m.seq::float8 as seq, m.rev::float8 as rev,
  m.created_rev::float8 as "createdRev", m.sender_id as "senderId", m.message, m.message_type as "messageType",
  m.client_id as "clientId", m.created_at as "createdAt", m.edited_at as "editedAt", m.deleted,
  m.reply_to_id::float8 as "replyToId", m.reply_to as "replyTo", m.reactions, m.mentions,
  u.username, u.first_name as "firstName", u.last_name as "lastName"`

const asDate = (value: Date | string | null) => value === null ? null : new Date(value)

/**
 * Applies a batch of changes in one transaction, in request order. The rooms' rows are locked first (the lock that
 * orders sends), so each change takes its room's next rev and sees every change committed before it. What each
 * change does is decided here, from the rows as read under that lock; then every touched message is written once
 * in its final state, and the reactions table gets the rows added and removed.
 */
export async function applyChanges (query: Query, requests: ChangeRequest[]):
Promise<{ outcomes: Array<ChangeResult | ChangeRefused>, committed: CommittedChange[] }> {
  const roomIds = [...new Set(requests.map((r) => r.roomId))].sort((a, b) => a - b)
  const actorIds = [...new Set(requests.map((r) => r.actor.id))]
  // One round trip: lock the rooms, with the roles of the actors in them.
  const roles = new Map<string, string>()
  const rooms = new Map((await query<{ id: number, last_rev: number, now: Date | string, roles: Record<string, string> | null }>(
    `select id, last_rev::float8 as last_rev, now() as now,
      (select jsonb_object_agg(rm.user_id, rm.role) from room_members rm
        where rm.room_id = rooms.id and rm.user_id = any($2::int[])) as roles
    from rooms where id = any($1::int[]) order by id for update`,
    [roomIds, actorIds])).map((row) => {
    for (const [user, role] of Object.entries(row.roles ?? {})) roles.set(`${row.id}:${user}`, role)
    return [row.id, { rev: row.last_rev, now: new Date(row.now), changed: false }]
  }))

  // The messages, each with everyone who reacted with a touched emoji, in reaction order: one round trip.
  const reactors = new Map<string, Reactors>()
  const reacting = requests.filter((r) => r.kind === 'react' || r.kind === 'unreact')
  for (const r of reacting) {
    reactors.set(`${r.messageId}:${r.emoji}`, { messageId: r.messageId, emoji: r.emoji, initial: [], users: [], readded: new Set() })
  }
  const emojis = [...new Set(reacting.map((r) => r.emoji))]
  const messageIds = [...new Set(requests.map((r) => r.messageId))]
  const rows = new Map<number, Row>()
  const load = async (where: string, params: unknown[], withReactors: boolean) => {
    const reactorsColumn = withReactors
      ? `(select jsonb_agg(jsonb_build_array(r.emoji, r.user_id) order by r.id) from message_reactions r
          where r.message_id = m.id and r.emoji = any($2::text[])) as reactors`
      : 'null as reactors'
    for (const row of await query<Row & { reactors: Array<[string, number]> | null }>(
      `select ${MESSAGE_COLUMNS}, ${reactorsColumn} from messages m join users u on u.id = m.sender_id where ${where}`, params)) {
      if (rows.has(row.id)) continue
      const { reactors: found, ...message } = row
      rows.set(row.id, { ...message, createdAt: new Date(row.createdAt), editedAt: asDate(row.editedAt) })
      for (const [emoji, user] of found ?? []) {
        const entry = reactors.get(`${row.id}:${emoji}`)
        entry?.initial.push(user)
        entry?.users.push(user)
      }
    }
  }
  await (emojis.length > 0
    ? load('m.id = any($1::bigint[])', [messageIds, emojis], true)
    : load('m.id = any($1::bigint[])', [messageIds], false))
  // The replies to a message deleted here lose their excerpt, each with a rev of its own.
  const deleting = requests.filter((r) => r.kind === 'delete').map((r) => r.messageId)
  if (deleting.length > 0) {
    await load(`m.reply_to_id = any($1::bigint[]) and not m.deleted and m.reply_to->>'excerpt' <> ''
      order by m.room_id, m.rev`, [deleting], false)
  }

  // Members by lowercased username, for the mentions of edited texts.
  const edits = requests.filter((r) => r.kind === 'edit')
  const named = new Map<string, Array<{ id: number, name: string }>>()
  const names = [...new Set(edits.flatMap((r) => mentionedNames(r.message)))]
  if (names.length > 0) {
    for (const row of await query<{ id: number, name: string, room_id: number }>(
      `select u.id, lower(u.username) as name, rm.room_id from users u join room_members rm on rm.user_id = u.id
        where rm.room_id = any($1::int[]) and lower(u.username) = any($2::text[]) order by u.id`,
      [[...new Set(edits.map((r) => r.roomId))], names])) {
      let members = named.get(String(row.room_id))
      if (members === undefined) named.set(String(row.room_id), members = [])
      members.push({ id: row.id, name: row.name })
    }
  }
  const mentionsOf = (roomId: number, text: string) => {
    const members = named.get(String(roomId)) ?? []
    return [...new Set(mentionedNames(text).flatMap((name) => members.filter((m) => m.name === name).map((m) => m.id)))]
  }

  const dirty = new Set<number>()
  const deletedHere = new Set<number>()
  /** Messages whose text changed (edited, deleted): their search words and mentions are written again. */
  const retexted = new Set<number>()
  const committed: CommittedChange[] = []
  const show = (row: Row, roomName: string) =>
    toMessage(row, roomName, { id: row.senderId, username: row.username, first_name: row.firstName, last_name: row.lastName })
  const bump = (row: Row, roomName: string) => {
    const room = rooms.get(row.roomId)!
    row.rev = ++room.rev
    room.changed = true
    dirty.add(row.id)
    const message = show(row, roomName)
    committed.push({ roomId: row.roomId, message })
    return message
  }

  const outcomes = requests.map((request): ChangeResult | ChangeRefused => {
    const room = rooms.get(request.roomId)
    if (room === undefined) return new ChangeRefused('room_gone', 'The room no longer exists.')
    const role = roles.get(`${request.roomId}:${request.actor.id}`)
    if (role === undefined) return new ChangeRefused('not_member', 'You are not a member of this room.')
    const row = rows.get(request.messageId)
    if (row === undefined || row.roomId !== request.roomId) return new ChangeRefused('not_found', 'No such message in this room.')
    const unchanged = () => ({ message: show(row, request.roomName), changed: false })
    if (request.kind === 'delete') {
      if (row.deleted) return unchanged()
      if (row.senderId !== request.actor.id && role !== 'owner' && !request.actor.isStaff) {
        return new ChangeRefused('forbidden', 'Only its sender, the room\'s owner or staff may delete a message.')
      }
      Object.assign(row, { deleted: true, message: '', reactions: [], mentions: [], replyTo: null, replyToId: null })
      deletedHere.add(row.id)
      retexted.add(row.id)
      const message = bump(row, request.roomName)
      for (const reply of rows.values()) {
        if (reply.replyTo?.id !== row.id || reply.deleted || reply.replyTo.excerpt === '') continue
        reply.replyTo = { ...reply.replyTo, excerpt: '' }
        bump(reply, request.roomName)
      }
      return { message, changed: true }
    }
    if (row.deleted) return new ChangeRefused('not_found', 'The message was deleted.')
    if (request.kind === 'edit') {
      if (row.senderId !== request.actor.id) return new ChangeRefused('forbidden', 'Only its sender may edit a message.')
      const text = normalizeText(request.message, row.messageType)
      if ('error' in text) return new ChangeRefused('invalid_message', text.error)
      if (text.text === row.message) return unchanged()
      Object.assign(row, { message: text.text, editedAt: room.now, mentions: mentionsOf(row.roomId, text.text) })
      retexted.add(row.id)
      return { message: bump(row, request.roomName), changed: true }
    }
    const entry = reactors.get(`${row.id}:${request.emoji}`)!
    const at = entry.users.indexOf(request.actor.id)
    if (request.kind === 'react') {
      if (at !== -1) return unchanged()
      if (!row.reactions.some((r) => r.emoji === request.emoji) && row.reactions.length >= MAX_EMOJIS) {
        return new ChangeRefused('too_many_emojis', `A message carries at most ${MAX_EMOJIS} distinct emojis.`)
      }
      if (entry.initial.includes(request.actor.id)) entry.readded.add(request.actor.id)
      entry.users.push(request.actor.id)
    } else {
      if (at === -1) return unchanged()
      entry.users.splice(at, 1)
    }
    row.reactions = withReactors(row.reactions, request.emoji, entry.users)
    return { message: bump(row, request.roomName), changed: true }
  })

  if (committed.length > 0) await store(query, rows, { dirty, deletedHere, retexted }, reactors, rooms)
  return { outcomes, committed }
}

/** The reactions list with one emoji's entry replaced: kept in place, appended when new, removed at 0. */
function withReactors (reactions: Reaction[], emoji: string, users: number[]): Reaction[] {
  const entry = { emoji, count: users.length, user_ids: users.slice(0, SHOWN_REACTORS) }
  const at = reactions.findIndex((r) => r.emoji === emoji)
  if (at === -1) return users.length === 0 ? reactions : [...reactions, entry]
  return users.length === 0
    ? reactions.filter((_, i) => i !== at)
    : reactions.map((r, i) => i === at ? entry : r)
}

/**
 * Writes the final state of every changed message, the reaction rows, the search words and mentions of the texts
 * that changed, and each room's last rev.
 */
async function store (query: Query, rows: Map<number, Row>,
  { dirty, deletedHere, retexted }: Record<'dirty' | 'deletedHere' | 'retexted', Set<number>>,
  reactors: Map<string, Reactors>,
  rooms: Map<number, { rev: number, changed: boolean }>): Promise<void> {
  const removed: Array<{ message_id: number, emoji: string, user_id: number }> = []
  const added: Array<{ message_id: number, emoji: string, user_id: number }> = []
  for (const entry of reactors.values()) {
    const { messageId, emoji } = entry
    if (deletedHere.has(messageId)) continue
    const kept = new Set(entry.users)
    for (const user of entry.initial) if (!kept.has(user)) removed.push({ message_id: messageId, emoji, user_id: user })
    const initial = new Set(entry.initial)
    // A user who took a reaction back and made it again goes to the end: their row takes a new id.
    for (const user of entry.users) {
      if (!initial.has(user) || entry.readded.has(user)) added.push({ message_id: messageId, emoji, user_id: user })
    }
  }
  const changed = [...dirty].map((id) => {
    const row = rows.get(id)!
    return {
      id,
      message: row.message,
      rev: row.rev,
      edited_at: row.editedAt?.toISOString() ?? null,
      deleted: row.deleted,
      reply_to_id: row.replyToId,
      reply_to: row.replyTo,
      reactions: row.reactions,
      mentions: row.mentions,
      retexted: retexted.has(id),
      // Split only for a text that changed: a reaction leaves the search words as they are.
      words: retexted.has(id) && !row.deleted ? searchVector(row.message) : null
    }
  })
  const mentioned = [...retexted].flatMap((id) => {
    const row = rows.get(id)!
    return row.mentions.map((user) => ({ message_id: id, room_id: row.roomId, seq: row.seq, user_id: user }))
  })
  const revs = [...rooms].filter(([, room]) => room.changed).map(([id, room]) => ({ id, rev: room.rev }))
  // One statement. Its parts share a snapshot and touch different rows: the reactions of deleted messages, those
  // taken back, those made (a re-made one moves to the end by taking a new id), the messages, the rooms.
  await query(`with gone as (
      delete from message_reactions where message_id = any($1::bigint[])
    ), removed as (
      delete from message_reactions r using jsonb_to_recordset($2::text::jsonb) as d(message_id bigint, emoji text, user_id int)
      where r.message_id = d.message_id and r.emoji = d.emoji and r.user_id = d.user_id
    ), added as (
      insert into message_reactions (message_id, emoji, user_id)
      select d.message_id, d.emoji, d.user_id
      from jsonb_to_recordset($3::text::jsonb) as d(o int, message_id bigint, emoji text, user_id int)
      order by d.o
      on conflict (message_id, emoji, user_id) do update set id = excluded.id
    ), changed as (
      update messages m set message = d.message, rev = d.rev, edited_at = d.edited_at, deleted = d.deleted,
        reply_to_id = d.reply_to_id, reply_to = d.reply_to, reactions = d.reactions,
        mentions = array(select jsonb_array_elements_text(d.mentions)::int),
        search = case when d.retexted then d.words::tsvector else m.search end
      from jsonb_to_recordset($4::text::jsonb) as d(id bigint, message text, rev bigint, edited_at timestamptz,
        deleted boolean, reply_to_id bigint, reply_to jsonb, reactions jsonb, mentions jsonb, retexted boolean, words text)
      where m.id = d.id
    ), unmentioned as (
      -- the mentions a changed text no longer makes; those it still makes stay, and the new ones are added
      delete from message_mentions mm where mm.message_id = any($6::bigint[]) and not exists (
        select from jsonb_to_recordset($7::text::jsonb) as d(message_id bigint, user_id int)
        where d.message_id = mm.message_id and d.user_id = mm.user_id)
    ), mentioned as (
      insert into message_mentions (room_id, user_id, seq, message_id)
      select d.room_id, d.user_id, d.seq, d.message_id
      from jsonb_to_recordset($7::text::jsonb) as d(message_id bigint, room_id int, seq bigint, user_id int)
      on conflict do nothing
    )
    update rooms set last_rev = d.rev from jsonb_to_recordset($5::text::jsonb) as d(id int, rev bigint)
    where rooms.id = d.id`, [
    [...deletedHere],
    JSON.stringify(removed),
    JSON.stringify(added.map((row, o) => ({ o, ...row }))),
    JSON.stringify(changed),
    JSON.stringify(revs),
    [...retexted],
    JSON.stringify(mentioned)
  ])
}
