import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { openDatabase } from '../../src/db/client.js'
import { migrationsDir } from '../../src/paths.js'
import postgres from 'postgres'
import { api, register, roomWith, type Account } from '../helpers/client.js'
import { waitUntil } from '../helpers/cluster.js'
import { entry, entryEnv } from '../helpers/entry.js'
import { freshDatabase, startServer } from '../helpers/server.js'

const embedded = process.env.TEST_DATABASE_URL === undefined || process.env.TEST_DATABASE_URL === ''

/** Runs a TypeScript entry point in its own process; resolves with its exit code and output. */
async function run (module: string, env: Record<string, string>) {
  const child = spawn(process.execPath, entry(module), {
    env: { ...process.env, ...env, ...entryEnv, LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, output }
}

/** Every outcome of a send on a kept plan: a mention, a repeated client_id, a reply, refusals, gapless seqs. */
async function sendsStayRight (t: Test, url: string, room: { name: string }, owner: Account, member: Account, outsider: Account) {
  const send = async (token: string, body: Record<string, unknown>) =>
    await api(url, 'POST', `/api/chat/groups/${room.name}/messages/`, { token, body })
  const first = await send(owner.token, { message: 'hello @' + member.user.username, client_id: 'kept-1' })
  t.equal(first.status, 201)
  t.same(first.body.mentions, [member.user.id], 'a mention of a member')
  const again = await send(owner.token, { message: 'hello again', client_id: 'kept-1' })
  t.equal(again.status, 200, 'a repeated client_id')
  t.equal(again.body.id, first.body.id, 'gets the stored message')
  const reply = await send(member.token, { message: 'a reply', reply_to: first.body.id })
  t.equal(reply.status, 201)
  t.equal(reply.body.reply_to.id, first.body.id, 'a reply')
  t.equal(reply.body.seq, first.body.seq + 1, 'seqs stay gapless')
  t.equal((await send(outsider.token, { message: 'not a member' })).status, 403, 'a non-member is refused')
  t.equal((await send(owner.token, { message: 'no such reply', reply_to: 999_999_999 })).status, 400, 'so is an unknown reply_to')
  const history = await api(url, 'GET', `/api/chat/groups/${room.name}/messages/?limit=100`, { token: owner.token })
  const seqs = history.body.results.map((m: { seq: number }) => m.seq).sort((a: number, b: number) => a - b)
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'history holds every seq once')
}

t.test('data survives a restart of the server', async (t) => {
  const database = await freshDatabase(t)
  const first = await startServer(t, {}, database)
  const account = await register(first.url, undefined, 'kept across restarts')
  await first.close()
  const second = await startServer(t, {}, database)
  const login = await api(second.url, 'POST', '/api/auth/login/', {
    body: { username: account.user.username, password: 'kept across restarts' }
  })
  t.equal(login.status, 200)
  t.equal((await api(second.url, 'GET', '/api/auth/me/', { token: account.token })).status, 200, 'old tokens still work')
})

// Each backend has its own hazard: the embedded one its unlocked directory, PostgreSQL concurrent migrations.
if (embedded) {
  t.test('a second process on the same embedded data directory is refused with a clear error', async (t) => {
    const database = await freshDatabase(t)
    await startServer(t, {}, database)
    const { code, output } = await run('src/server', { DATA_DIR: database.DATA_DIR! })
    t.equal(code, 1)
    t.match(output, /data directory .* is in use by process \d+/)
    await t.rejects(openDatabase({ dataDir: database.DATA_DIR! }), /is in use/, 'in the same process too')
  })

  t.test('sends keep their plan once the server has analyzed the tables, and every outcome stays right', async (t) => {
    const server = await startServer(t)
    const { owner, room, members: [member] } = await roomWith(server.url, 1)
    const outsider = await register(server.url)
    const { query, transaction } = server.app.database
    const kept = async () => await query<{ name: string, generic: number, custom: number }>(`select name,
      generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where name like 'kept%'`, [])
    const send = async (account: Account, message: string) =>
      await api(server.url, 'POST', `/api/chat/groups/${room.name}/messages/`, { token: account.token, body: { message } })
    t.equal((await send(owner, 'before the statistics')).status, 201)
    t.same(await kept(), [], 'without statistics, sends are planned at each run')
    // PGlite has no autovacuum: the server analyzes the tables once the messages have 50 ids.
    for (let i = 0; i < 25; i++) await Promise.all([send(owner, `owner ${i}`), send(member!, `member ${i}`)])
    await waitUntil('sends with a kept plan', async () => {
      await send(owner, 'waiting')
      return (await kept()).length > 0
    }, 10_000)

    await sendsStayRight(t, server.url, room, owner, member!, outsider)
    // The batch goes to the kept statement as an SQL literal.
    const awkward = "it's a \"quote\", a back\\slash \\' and \\\\, a new\nline, ünïcödé 🎉 $1 $x"
    const stored = await send(owner, awkward)
    t.equal(stored.status, 201)
    const one = await api(server.url, 'GET', `/api/chat/groups/${room.name}/messages/${stored.body.id}/`, { token: owner.token })
    t.equal(one.body.message, awkward, 'any text is stored as sent')
    const [statement] = await kept()
    t.ok(statement!.generic > 0 && statement!.custom === 0, 'the kept statement runs its generic plan')
    const plan = (await transaction(async (q) => {
      await q('set local plan_cache_mode = force_generic_plan', [])
      return await q<{ 'QUERY PLAN': string }>(`explain execute ${statement!.name}('[]', null, 'explain')`, [])
    })).map((row) => row['QUERY PLAN']).join('\n')
    t.match(plan, /messages_roomId_senderId_clientId_unique/, 'a retried client_id is looked up on its unique index')
    t.notMatch(plan, /Seq Scan/, 'and no table is scanned')
  })
}

if (!embedded) {
  t.test('sends keep their plan once the tables have statistics, and every outcome stays right', async (t) => {
    const database = await freshDatabase(t)
    const server = await startServer(t, {}, database)
    const { owner, room, members: [member] } = await roomWith(server.url, 1)
    const outsider = await register(server.url)
    const send = async (token: string, body: Record<string, unknown>) =>
      await api(server.url, 'POST', `/api/chat/groups/${room.name}/messages/`, { token, body })
    t.equal((await send(owner.token, { message: 'before the statistics' })).status, 201)
    const sql = postgres(database.DATABASE_URL!, { max: 1, onnotice: () => {} })
    t.teardown(() => sql.end({ timeout: 5 }))
    const writers = async () => (await sql<Array<{ name: string }>>`select application_name as name from pg_stat_activity
      where datname = current_database() and application_name like 'chat-backend writer%'`).map((row) => row.name)
    t.same(await writers(), ['chat-backend writer'], 'without statistics, sends are planned at each run')
    await sql`analyze`
    // The server looks for statistics at most once a second.
    await waitUntil('sends on the connection that keeps its plan', async () => {
      await send(owner.token, { message: 'waiting' })
      return (await writers()).includes('chat-backend writer, plans kept')
    }, 10_000)

    await sendsStayRight(t, server.url, room, owner, member!, outsider)
  })

  t.test('several instances migrating one fresh PostgreSQL database at once all succeed', async (t) => {
    const { DATABASE_URL } = await freshDatabase(t)
    const databases = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ databaseUrl: DATABASE_URL, dataDir: '' })))
    t.teardown(() => Promise.all(databases.map((database) => database.close())))
    await Promise.all(databases.map((database) => database.migrate()))
    const applied = await databases[0]!.orm.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
    const journal = JSON.parse(readFileSync(join(migrationsDir, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
    t.equal((applied as unknown as Array<{ n: number }>)[0]!.n, journal.entries.length, 'each migration applied once')
  })
}

t.test('npm run db:migrate applies the migrations and exits', async (t) => {
  const database = await freshDatabase(t)
  const env: Record<string, string> = database.DATABASE_URL === undefined
    ? { DATA_DIR: database.DATA_DIR! }
    : { DATABASE_URL: database.DATABASE_URL }
  const { code, output } = await run('src/db/migrate-cli', env)
  t.equal(code, 0, output)
  t.match(output, /database migrated/)
})
