import { and, eq, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { roomMembers, rooms, tokens, users, type MemberRow, type RoomRow, type UserRow } from '../db/schema/index.js'
import { isUniqueViolation } from '../lib/db-errors.js'
import { conflict } from '../lib/http-error.js'
import { hashToken, newToken } from '../lib/tokens.js'

export interface NewUser { username: string, passwordHash: string, firstName?: string, lastName?: string, email?: string }

// last_used_at moves at most once a minute per token: a read-mostly table, not a write per request.
const LAST_USED_GRANULARITY_MS = 60_000

export interface Authenticated {
  user: UserRow
  tokenId: number
  /** Present when a room name was asked for: the room (undefined when there is none) and the membership. */
  inRoom: { room: RoomRow | undefined, member: MemberRow | null } | undefined
}

/** The queries of the users and tokens tables; `fastify.usersRepository` (plugins/users-repository.ts). */
export function createUsersRepository (db: Db, onTouchError: (error: unknown) => void = () => {}) {
  // Prepared: every authenticated request runs one of these (built once, parsed once per connection).
  const tokenUser = { user: users, tokenId: tokens.id, lastUsedAt: tokens.lastUsedAt }
  const byToken = db.select(tokenUser).from(tokens)
    .innerJoin(users, eq(users.id, tokens.userId))
    .where(eq(tokens.keyHash, sql.placeholder('keyHash')))
    .prepare('token_user')
  const byTokenInRoom = db.select({ ...tokenUser, room: rooms, member: roomMembers }).from(tokens)
    .innerJoin(users, eq(users.id, tokens.userId))
    .leftJoin(rooms, eq(rooms.name, sql.placeholder('roomName')))
    .leftJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, users.id)))
    .where(eq(tokens.keyHash, sql.placeholder('keyHash')))
    .prepare('token_user_room')

  /** Moves the token's last_used_at when it is stale, and drops it from the answer. */
  const touched = (row: { user: UserRow, tokenId: number, lastUsedAt: Date }, inRoom: Authenticated['inRoom']) => {
    if (Date.now() - row.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS) {
      // Bookkeeping, not a condition of access: not awaited, so the one request a minute that moves it does not
      // also wait for a commit.
      db.update(tokens).set({ lastUsedAt: sql`now()` })
        .where(and(eq(tokens.id, row.tokenId), lt(tokens.lastUsedAt, sql`now() - interval '1 minute'`)))
        .then(() => {}, onTouchError)
    }
    return { user: row.user, tokenId: row.tokenId, inRoom }
  }

  return {
    async create (user: NewUser): Promise<UserRow> {
      try {
        const [row] = await db.insert(users).values(user).returning()
        return row!
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('A user with that username already exists.')
        throw error
      }
    },

    async findByUsername (username: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.username, username))
      return row
    },

    /** Issues a token; only its hash is stored, so the returned value is the one chance to read it. */
    async issueToken (userId: number): Promise<string> {
      const token = newToken()
      await db.insert(tokens).values({ keyHash: hashToken(token), userId })
      return token
    },

    /**
     * The token's user; with `roomName`, in the same round trip, that room and the user's membership of it (for
     * the routes under a room name, which need both: one query instead of two). Read on every REST request; a
     * socket upgrade reads it through the access cache (plugins/access-cache.ts), which logout empties of the token
     * at once on its instance and, through the broker, within milliseconds on the others (see docs/api.md).
     */
    async authenticate (token: string, roomName?: string): Promise<Authenticated | undefined> {
      const keyHash = hashToken(token)
      if (roomName === undefined) {
        const [row] = await byToken.execute({ keyHash })
        return row === undefined ? undefined : touched(row, undefined)
      }
      const [row] = await byTokenInRoom.execute({ keyHash, roomName })
      return row === undefined ? undefined : touched(row, { room: row.room ?? undefined, member: row.member })
    },

    /** Revokes one token; true when it existed. */
    async revokeToken (tokenId: number): Promise<boolean> {
      const deleted = await db.delete(tokens).where(eq(tokens.id, tokenId)).returning({ id: tokens.id })
      return deleted.length > 0
    }
  }
}
