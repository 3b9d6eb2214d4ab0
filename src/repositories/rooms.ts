import { and, asc, desc, eq, getTableColumns, gt, ilike, inArray, lt, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { roomMembers, rooms, users, type MemberRow, type RoomRow, type UserRow } from '../db/schema/index.js'
import type { Cursor } from '../lib/cursor.js'
import { isUniqueViolation } from '../lib/db-errors.js'
import { conflict } from '../lib/http-error.js'
import { keysetPage } from '../lib/keyset.js'
import type { RoomWithCount } from '../db/mappers.js'

export interface RoomFields { description?: string, roomAvatar?: string | null, isPrivate?: boolean }

const roomColumns = {
  ...getTableColumns(rooms),
  membersCount: sql<number>`(select count(*)::int from ${roomMembers} where ${roomMembers.roomId} = ${rooms.id})`
    .mapWith(Number)
}

/** LIKE pattern for a substring, with the user's own wildcards taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** The queries of the rooms and room_members tables; `fastify.roomsRepository` (plugins/rooms-repository.ts). */
export function createRoomsRepository (db: Db) {
  const byId = async (id: number): Promise<RoomWithCount> => {
    const [row] = await db.select(roomColumns).from(rooms).where(eq(rooms.id, id))
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
    async create (ownerId: number, name: string, fields: RoomFields): Promise<RoomWithCount> {
      try {
        const id = await db.transaction(async (tx) => {
          const [room] = await tx.insert(rooms).values({ name, ownerId, ...fields }).returning({ id: rooms.id })
          await tx.insert(roomMembers).values({ roomId: room!.id, userId: ownerId, role: 'owner' })
          return room!.id
        })
        return await byId(id)
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('A room with that name already exists.')
        throw error
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

    async update (id: number, fields: RoomFields): Promise<RoomWithCount> {
      await db.update(rooms).set({ ...fields, updatedAt: sql`now()` }).where(eq(rooms.id, id))
      return await byId(id)
    },

    async remove (id: number): Promise<void> {
      await db.delete(rooms).where(eq(rooms.id, id))
    },

    /** The rooms a user has joined, by name. */
    async joined (userId: number): Promise<RoomWithCount[]> {
      return await db.select(roomColumns).from(rooms)
        .innerJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
        .orderBy(asc(rooms.name))
    },

    /** One page of the rooms a user may see (public ones, and private ones they are in), by name. */
    async page (user: UserRow, search: string | undefined, cursor: Cursor<string> | undefined, limit: number) {
      const membership = db.select({ one: sql`1` }).from(roomMembers)
        .where(and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, user.id)))
      const isMember = sql<boolean>`exists (${membership})`.mapWith(Boolean)
      const visible: SQL | undefined = user.isStaff ? undefined : or(eq(rooms.isPrivate, false), isMember)
      const matching = search === undefined || search === '' ? undefined : ilike(rooms.name, containing(search))
      return await keysetPage(cursor, limit, async (direction, key, count) => {
        const seek = key === undefined ? undefined : direction === 'n' ? gt(rooms.name, key) : lt(rooms.name, key)
        return await db.select({ ...roomColumns, isMember }).from(rooms)
          .where(and(visible, matching, seek))
          .orderBy(direction === 'n' ? asc(rooms.name) : desc(rooms.name))
          .limit(count)
      }, (row) => row.name)
    },

    async members (roomId: number): Promise<UserRow[]> {
      return await db.select(getTableColumns(users)).from(roomMembers)
        .innerJoin(users, eq(users.id, roomMembers.userId))
        .where(eq(roomMembers.roomId, roomId))
        .orderBy(asc(roomMembers.joinedAt), asc(users.id))
    },

    /** Adds a member; false when they already were one. */
    async addMember (roomId: number, userId: number): Promise<boolean> {
      const added = await db.insert(roomMembers).values({ roomId, userId }).onConflictDoNothing()
        .returning({ userId: roomMembers.userId })
      return added.length > 0
    },

    /**
     * Removes a member; false when they were not one. An owner who leaves hands the room to the longest-standing
     * member left, so a room is never stranded without someone who can manage it.
     */
    async removeMember (roomId: number, userId: number): Promise<boolean> {
      return await db.transaction(async (tx) => {
        const [removed] = await tx.delete(roomMembers)
          .where(and(eq(roomMembers.roomId, roomId), eq(roomMembers.userId, userId)))
          .returning()
        if (removed === undefined) return false
        const [room] = await tx.select({ ownerId: rooms.ownerId }).from(rooms).where(eq(rooms.id, roomId)).for('update')
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
