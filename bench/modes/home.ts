import postgres from 'postgres'
import { createRoom, joinRoom, mapLimit, register, timedGet, uniqueName, type Account, type RoomInfo } from '../lib/api.js'
import { msStats } from '../lib/stats.js'
import { insertMessages, settle } from './fill.js'

export interface RoomListOptions { url: string, databaseUrl: string, rooms: number, messages: number, requests: number }

/**
 * The home screen: `GET /api/chat/groups/` for a user in `rooms` rooms of `messages` messages each, all unread
 * (written straight into PostgreSQL), against the same call for a user in as many empty rooms, alternating, one
 * request at a time, after an unmeasured warm-up.
 */
export async function runRoomList (options: RoomListOptions) {
  const { url, rooms, messages, requests } = options
  const owner = await register(url, uniqueName('home_o'))
  const reader = await register(url, uniqueName('home_f'))
  const idle = await register(url, uniqueName('home_e'))
  const full = await mapLimit(Array.from({ length: rooms }), 8, async () => {
    const room = await createRoom(url, owner.token, uniqueName('home_full'))
    await joinRoom(url, reader.token, room.name)
    return room
  })
  await mapLimit(Array.from({ length: rooms }), 8, () => createRoom(url, idle.token, uniqueName('home_empty')))
  const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} })
  const started = performance.now()
  try {
    for (const room of full) {
      await insertMessages(sql, room, owner, 1, messages, messages)
      await sql`update rooms set last_seq = ${messages}, last_rev = ${messages} where id = ${room.id}`
    }
    await settle(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
  const fillS = (performance.now() - started) / 1000

  const list = (account: Account) => timedGet<Array<{ unread_count: number, last_message: unknown }>>(url, account.token, '/api/chat/groups/')
  const check = (await list(reader)).body
  if (check.length !== rooms || check.some((room) => room.unread_count !== messages || room.last_message === null)) {
    throw new Error(`the list is not ${rooms} rooms with ${messages} unread each`)
  }
  for (let i = 0; i < 20; i++) { await list(reader); await list(idle) }
  const times = { full: [] as number[], empty: [] as number[], healthz: [] as number[] }
  for (let i = 0; i < requests; i++) {
    times.full.push((await list(reader)).ms)
    times.empty.push((await list(idle)).ms)
    times.healthz.push((await timedGet(url, reader.token, '/healthz')).ms)
  }
  const fullMs = msStats(times.full)
  const emptyMs = msStats(times.empty)
  return {
    mode: 'rooms',
    rooms,
    messages,
    fillS: Math.round(fillS * 10) / 10,
    fullMs,
    emptyMs,
    healthzMs: msStats(times.healthz),
    p99Ratio: Math.round((fullMs.p99 / emptyMs.p99) * 100) / 100
  }
}

export interface SearchOptions { url: string, databaseUrl: string, messages: number, small: number, requests: number }

const RARE = 'needle'
const COMMON = 'pepper'

/**
 * A room of `count` messages written straight into PostgreSQL, with their search words: one in a hundred has the
 * word COMMON, the one just past the middle (never a hundredth) the word RARE.
 */
async function searchRoom (url: string, sql: postgres.Sql, account: Account, count: number): Promise<RoomInfo> {
  const room = await createRoom(url, account.token, uniqueName('search'))
  const chunk = 200_000
  for (let start = 1; start <= count; start += chunk) {
    const end = Math.min(count, start + chunk - 1)
    await sql`
      insert into messages (room_id, seq, rev, created_rev, sender_id, message, message_type, created_at, search)
      select ${room.id}, g, g, g, ${account.user.id}, t.text, 'text',
             now() - make_interval(secs => (${count}::bigint - g) / 1000.0), t.text::tsvector
      from generate_series(${start}::bigint, ${end}::bigint) g,
        lateral (select 'history message ' || g ||
          case when g = ${Math.ceil(count / 2) + 1} then ${` ${RARE}`}::text when g % 100 = 0 then ${` ${COMMON}`}::text else '' end as text) t`
  }
  await sql`update rooms set last_seq = ${count}, last_rev = ${count} where id = ${room.id}`
  return room
}

/**
 * Search against history, in a room of `messages` messages and one of `small`: a page of 50 for a rare word (one
 * match) and for a word in 1 % of the messages, beside a history page of 50, alternating, one request at a time.
 */
export async function runSearch (options: SearchOptions) {
  const { url, messages, small, requests } = options
  const account = await register(url, uniqueName('search_u'))
  const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} })
  const started = performance.now()
  let big: RoomInfo
  let little: RoomInfo
  try {
    big = await searchRoom(url, sql, account, messages)
    little = await searchRoom(url, sql, account, small)
    await settle(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
  const fillS = (performance.now() - started) / 1000

  type Page = { results: unknown[], next: string | null }
  const get = (path: string) => timedGet<Page>(url, account.token, path)
  const paths = (room: RoomInfo) => ({
    rare: `/api/chat/search/?q=${RARE}&room=${room.name}&limit=50`,
    common: `/api/chat/search/?q=${COMMON}&room=${room.name}&limit=50`,
    history: `/api/chat/groups/${room.name}/messages/?limit=50`
  })
  const measureRoom = async (room: RoomInfo, count: number) => {
    const p = paths(room)
    const rare = await get(p.rare)
    const common = await get(p.common)
    if (rare.body.results.length !== 1) throw new Error(`${RARE}: ${rare.body.results.length} results, not 1`)
    if (common.body.results.length !== Math.min(50, Math.floor(count / 100)) || (count >= 5100) !== (common.body.next !== null)) {
      throw new Error(`${COMMON}: ${common.body.results.length} results`)
    }
    for (let i = 0; i < 20; i++) for (const path of Object.values(p)) await get(path)
    const times = { rare: [] as number[], common: [] as number[], history: [] as number[] }
    for (let i = 0; i < requests; i++) {
      for (const [key, path] of Object.entries(p) as Array<[keyof typeof times, string]>) times[key].push((await get(path)).ms)
    }
    const rareMs = msStats(times.rare)
    const commonMs = msStats(times.common)
    const historyMs = msStats(times.history)
    return {
      messages: count,
      rareMs,
      commonMs,
      historyMs,
      rareRatio: Math.round((rareMs.p99 / historyMs.p99) * 100) / 100,
      commonRatio: Math.round((commonMs.p99 / historyMs.p99) * 100) / 100
    }
  }
  return { mode: 'search', fillS: Math.round(fillS * 10) / 10, big: await measureRoom(big, messages), small: await measureRoom(little, small) }
}
