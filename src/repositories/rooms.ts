import { randomBytes } from 'node:crypto'
import { and, asc, desc, eq, getTableColumns, gt, ilike, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import type { Db } from '../db/client.js'
import { toMessage, toUser, type RoomView } from '../db/mappers.js'
import type { Message } from '../schemas/messages.js'
import {
  messageColumns, messageMentions, messages, publicUserColumns, roomMembers, rooms, users, type MemberRow, type RoomRow,
  type UserRow
} from '../db/schema/index.js'
import type { Cursor } from '../lib/cursor.js'
import { isUniqueViolation } from '../lib/db-errors.js'
import { conflict } from '../lib/http-error.js'
import { keysetPage } from '../lib/keyset.js'

export interface RoomFields { description?: string, roomAvatar?: string | null, isPrivate?: boolean }

const roomColumns = {
  ...getTableColumns(rooms),
  membersCount: sql<number>`(select count(*)::int from ${roomMembers} where ${roomMembers.roomId} = ${rooms.id})`
    .mapWith(Number)
}

const mine = alias(roomMembers, 'mine')
const peer = alias(users, 'peer')
const nullable = (value: unknown) => value === null ? null : Number(value)
/** Whether the caller of `selectViews` is a member (their row of `mine` was found). */
const isMine = () => sql<boolean>`${mine.userId} is not null`

/**
 * Rooms as one user sees them: their read position and unread counts (null for a non-member), the room's newest
 * message that is not deleted (none for a private room they are not in), and in a direct room the other member.
 * Nothing counts history. A send moves its sender's read position to their message, so the unread messages are the
 * seqs after the read position less the deleted ones there (a seek on the partial index of deleted messages), and
 * the unread mentions a seek on `message_mentions`; the newest message is a backward seek on (room_id, seq).
 */
function selectViews (db: Db, userId: number) {
  const read = mine.lastReadSeq
  const newest = db.select({ id: messages.id, createdAt: messages.createdAt }).from(messages)
    .where(and(eq(messages.roomId, rooms.id), eq(messages.deleted, false)))
    .orderBy(desc(messages.seq)).limit(1).as('newest')
  const deletedAfter = sql`(select count(*) from ${messages} d where d.room_id = ${rooms.id} and d.deleted and d.seq > ${read})`
  const query = db.select({
    ...roomColumns,
    isMember: isMine().mapWith(Boolean),
    lastReadSeq: sql<number | null>`${read}`.mapWith(nullable),
    unreadCount: sql<number | null>`case when ${read} is null then null
      else greatest(0, ${rooms.lastSeq} - ${read} - ${deletedAfter})::int end`,
    unreadMentions: sql<number | null>`case when ${read} is null then null else (select count(*)::int from ${messageMentions} mm
      where mm.room_id = ${rooms.id} and mm.user_id = ${userId} and mm.seq > ${read}) end`,
    lastMessageId: sql<number | null>`case when ${read} is null and ${rooms.isPrivate} then null else ${newest.id} end`
      .mapWith(nullable),
    peerId: peer.id,
    peerUsername: peer.username,
    peerFirstName: peer.firstName,
    peerLastName: peer.lastName
  }).from(rooms)
    .leftJoin(mine, and(eq(mine.roomId, rooms.id), eq(mine.userId, userId)))
    .leftJoinLateral(newest, sql`true`)
    .leftJoin(peer, eq(peer.id, sql`case when ${rooms.directLow} = ${userId} then ${rooms.directHigh} else ${rooms.directLow} end`))
    .$dynamic()
  return { query, activity: sql`coalesce(${newest.createdAt}, ${rooms.createdAt})` }
}

/** LIKE pattern for a substring, with the user's own wildcards taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** The queries of the rooms and room_members tables; `fastify.roomsRepository` (plugins/rooms-repository.ts). */
export function createRoomsRepository (db: Db) {
  /** The rows of `selectViews` with their last messages (one more query for all of them) and peers. */
  const withLastMessages = async <T extends ViewRow>(rows: T[]): Promise<Array<T & RoomView>> => {
    const ids = rows.flatMap((row) => row.lastMessageId === null ? [] : [row.lastMessageId])
    const found = new Map<number, Message>()
    if (ids.length > 0) {
      const names = new Map(rows.map((row) => [row.id, row.name]))
      for (const row of await db.select({ message: messageColumns, sender: publicUserColumns })
        .from(messages).innerJoin(users, eq(users.id, messages.senderId)).where(inArray(messages.id, ids as number[]))) {
        found.set(row.message.id, toMessage(row.message, names.get(row.message.roomId)!, toUser(row.sender)))
      }
    }
    return rows.map((row) => ({
      ...row,
      lastMessage: row.lastMessageId === null ? null : found.get(row.lastMessageId) ?? null,
      peer: row.peerId === null
        ? null
        : toUser({ id: row.peerId, username: row.peerUsername!, firstName: row.peerFirstName!, lastName: row.peerLastName! })
    }))
  }

  /** A room as `userId` sees it. */
  const byId = async (id: number, userId: number): Promise<RoomView> => {
    const [row] = await withLastMessages(await selectViews(db, userId).query.where(eq(rooms.id, id)))
    return row!
  }

  return {
    byId,

    /** The room (members not counted) and the caller's membership (if any), in one query. */
    async findWithMember (name: string, userId: number): Promise<{ room: RoomRow, member: MemberRow | null } | undefined> {
      const [row] = await db.select({ room: rooms, member: roomMembers }).from(rooms)
        .leftJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
        .where(eq(rooms.name, name))
      return row
    },

    /** Creates a room with its owner as first member. */
    async create (ownerId: number, name: string, fields: RoomFields): Promise<RoomView> {
      try {
        const id = await db.transaction(async (tx) => {
          const [room] = await tx.insert(rooms).values({ name, ownerId, ...fields }).returning({ id: rooms.id })
          await tx.insert(roomMembers).values({ roomId: room!.id, userId: ownerId, role: 'owner' })
          return room!.id
        })
        return await byId(id, ownerId)
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('A room with that name already exists.')
        throw error
      }
    },

    /**
     * The direct room of two users, made if there is none (`created`). The unique (direct_low, direct_high) pair
     * makes a concurrent second insert wait for the first and then do nothing; this one then reads the room made.
     */
    async direct (userId: number, peerId: number): Promise<{ room: RoomView, created: boolean }> {
      const [directLow, directHigh] = userId < peerId ? [userId, peerId] : [peerId, userId]
      for (;;) {
        const made = await db.transaction(async (tx) => {
          // The name only has to be free: it never shows to anyone outside the room.
          const [room] = await tx.insert(rooms)
            .values({ name: `dm-${randomBytes(8).toString('hex')}`, isPrivate: true, ownerId: null, directLow, directHigh })
            .onConflictDoNothing().returning({ id: rooms.id })
          if (room === undefined) return undefined
          await tx.insert(roomMembers).values([{ roomId: room.id, userId: directLow }, { roomId: room.id, userId: directHigh }])
          return room.id
        })
        const [existing] = made !== undefined
          ? [{ id: made }]
          : await db.select({ id: rooms.id }).from(rooms).where(and(eq(rooms.directLow, directLow), eq(rooms.directHigh, directHigh)))
        // Nothing made and nothing found: the name was taken, or the room was deleted in between. Once more.
        if (existing !== undefined) return { room: await byId(existing.id, userId), created: made !== undefined }
      }
    },

    async position (id: number): Promise<{ lastSeq: number, lastRev: number }> {
      const [row] = await db.select({ lastSeq: rooms.lastSeq, lastRev: rooms.lastRev }).from(rooms).where(eq(rooms.id, id))
      return row ?? { lastSeq: 0, lastRev: 0 }
    },

    /** Whether a user is a member of a room now, or the room is gone. */
    async membership (roomId: number, userId: number): Promise<'member' | 'not_member' | 'room_gone'> {
      const [row] = await db.select({ userId: roomMembers.userId }).from(rooms)
        .leftJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
        .where(eq(rooms.id, roomId))
      if (row === undefined) return 'room_gone'
      return row.userId === null ? 'not_member' : 'member'
    },

    async lastRevs (ids: number[]): Promise<Array<{ id: number, lastRev: number }>> {
      return await db.select({ id: rooms.id, lastRev: rooms.lastRev }).from(rooms).where(inArray(rooms.id, ids))
    },

    async update (id: number, userId: number, fields: RoomFields): Promise<RoomView> {
      await db.update(rooms).set({ ...fields, updatedAt: sql`now()` }).where(eq(rooms.id, id))
      return await byId(id, userId)
    },

    async remove (id: number): Promise<void> {
      await db.delete(rooms).where(eq(rooms.id, id))
    },

    /** The rooms a user has joined, by latest activity (their newest message, else their creation), newest first. */
    async joined (userId: number): Promise<RoomView[]> {
      const { query, activity } = selectViews(db, userId)
      return await withLastMessages(await query.where(isMine())
        .orderBy(desc(activity), desc(rooms.id)))
    },

    /** One page of the rooms a user may see (public ones, and private ones they are in), by name. */
    async page (user: UserRow, search: string | undefined, cursor: Cursor<string> | undefined, limit: number) {
      const visible: SQL | undefined = user.isStaff ? undefined : or(eq(rooms.isPrivate, false), isMine())
      // Direct rooms are listed to their two members only, staff or not.
      const listed = or(isNull(rooms.directLow), isMine())
      const matching = search === undefined || search === '' ? undefined : ilike(rooms.name, containing(search))
      return await keysetPage(cursor, limit, async (direction, key, count) => {
        const seek = key === undefined ? undefined : direction === 'n' ? gt(rooms.name, key) : lt(rooms.name, key)
        return await withLastMessages(await selectViews(db, user.id).query
          .where(and(visible, listed, matching, seek))
          .orderBy(direction === 'n' ? asc(rooms.name) : desc(rooms.name))
          .limit(count))
      }, (row) => row.name)
    },

    async members (roomId: number): Promise<Array<UserRow & { lastReadSeq: number }>> {
      return await db.select({ ...getTableColumns(users), lastReadSeq: roomMembers.lastReadSeq }).from(roomMembers)
        .innerJoin(users, eq(users.id, roomMembers.userId))
        .where(eq(roomMembers.roomId, roomId))
        .orderBy(asc(roomMembers.joinedAt), asc(users.id))
    },

    /** Adds a member, who has read everything so far; false when they already were one. */
    async addMember (roomId: number, userId: number): Promise<boolean> {
      const lastSeq = sql`(select ${rooms.lastSeq} from ${rooms} where ${rooms.id} = ${roomId})`
      const added = await db.insert(roomMembers).values({ roomId, userId, lastReadSeq: lastSeq }).onConflictDoNothing()
        .returning({ userId: roomMembers.userId })
      return added.length > 0
    },

    /**
     * Removes a member; false when they were not one. An owner who leaves hands the room to the longest-standing
     * member left, so a room is never stranded without someone who can manage it.
     */
    async removeMember (roomId: number, userId: number): Promise<boolean> {
      return await db.transaction(async (tx) => {
        // The room's row first, as sends take it (then their sender's member row): never the other way round.
        const [room] = await tx.select({ ownerId: rooms.ownerId }).from(rooms).where(eq(rooms.id, roomId)).for('update')
        const [removed] = await tx.delete(roomMembers)
          .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
          .returning()
        if (removed === undefined) return false
        if (room?.ownerId === userId) {
          const [heir] = await tx.select({ userId: roomMembers.userId }).from(roomMembers)
            .where(eq(roomMembers.roomId, roomId)).orderBy(asc(roomMembers.joinedAt), asc(roomMembers.userId)).limit(1)
          await tx.update(rooms).set({ ownerId: heir?.userId ?? null }).where(eq(rooms.id, roomId))
          if (heir !== undefined) {
            await tx.update(roomMembers).set({ role: 'owner' })
              .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, heir.userId)))
          }
        }
        return true
      })
    }
  }
}

type ViewRow = Awaited<ReturnType<ReturnType<typeof selectViews>['query']['execute']>>[number]
