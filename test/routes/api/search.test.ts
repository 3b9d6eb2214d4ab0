import t from 'tap'
import { isError } from '../../helpers/assertions.js'
import { api, createRoom, register, roomWith, uniqueName, type Account } from '../../helpers/client.js'
import { startServer } from '../../helpers/server.js'

const server = await startServer(t)

const search = (a: Account, query: string) => api(server.url, 'GET', `/api/chat/search/?${query}`, { token: a.token })
const q = (text: string, more = '') => `q=${encodeURIComponent(text)}${more}`
const texts = async (a: Account, query: string) => {
  const response = await search(a, query)
  if (response.status !== 200) throw new Error(`search failed: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body.results.map((m: any) => m.message)
}
const send = async (a: Account, room: string, message: string) =>
  (await api(server.url, 'POST', `/api/chat/groups/${room}/messages/`, { token: a.token, body: { message } })).body

// Words unique to this run, so that runs on the same database never see each other's messages.
const w = uniqueName('w').replace('_', '')

t.test('every word whole and case-insensitive, the last also as a prefix; newest first', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  await send(owner, room.name, `The ${w}Alpha meeting is at ten`)
  await send(owner, room.name, `${w}alphabet soup, then the MEETING`)
  await send(owner, room.name, `no match here: ${w}alph-a`)
  await send(owner, room.name, `Meeting about ${w}beta`)
  t.same(await texts(owner, q(`${w}alpha meeting`)), [`The ${w}Alpha meeting is at ten`],
    'the first word is whole: alphabet is not alpha')
  t.same(await texts(owner, q(`meeting ${w}ALPHA`)),
    [`${w}alphabet soup, then the MEETING`, `The ${w}Alpha meeting is at ten`], 'the last word is a prefix, newest first')
  t.same(await texts(owner, q(`${w}alph`)), [`no match here: ${w}alph-a`, `${w}alphabet soup, then the MEETING`, `The ${w}Alpha meeting is at ten`])
  t.same(await texts(owner, q(`${w}beta meeting`)), [`Meeting about ${w}beta`], 'words in any order')
  t.same(await texts(owner, q(`${w}gamma`)), [])
  const page = (await search(owner, q(`${w}beta`))).body
  t.same(Object.keys(page).sort(), ['next', 'previous', 'results'])
  t.match(page.results[0], { room: room.name, seq: 4, deleted: false, sender: owner.user }, 'full Message objects')
})

t.test('letters and digits of any script are words; everything else only separates them', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  await send(owner, room.name, `Grüße aus München ${w}x, 2024 über ${w}日本語`)
  await send(owner, room.name, `email ${w}me@example.com or ${w}foo_bar`)
  t.same(await texts(owner, q(`grüße ${w}X`)), [`Grüße aus München ${w}x, 2024 über ${w}日本語`])
  t.same(await texts(owner, q(`2024 ${w}日本`)), [`Grüße aus München ${w}x, 2024 über ${w}日本語`], 'a prefix in another script')
  t.same(await texts(owner, q(`example ${w}me`)), [`email ${w}me@example.com or ${w}foo_bar`], 'punctuation splits words')
  t.same(await texts(owner, q(`bar ${w}foo`)), [`email ${w}me@example.com or ${w}foo_bar`])
  // Combining marks belong to their word: the vowel signs of हिन्दी do not split it.
  await send(owner, room.name, `${w}hi हिन्दी में`)
  t.same(await texts(owner, q(`हिन्दी ${w}hi`)), [`${w}hi हिन्दी में`], 'a word with combining marks is one word')
  t.same(await texts(owner, q(`हि ${w}hi`)), [], 'and not a run of smaller ones')
  for (const syntax of ['&', '|', '!', ':*', "'", '"', '\\', '(', ')', '<->', '!!', "''", '\\\\', "' | '"]) {
    const response = await search(owner, q(`${w}foo ${syntax} bar`))
    t.equal(response.status, 200, `${JSON.stringify(syntax)} is not an operator`)
    t.same(response.body.results.map((m: any) => m.message), [`email ${w}me@example.com or ${w}foo_bar`])
  }
  t.same(await texts(owner, q(`${w}foo:* | !${w}me`)), [`email ${w}me@example.com or ${w}foo_bar`],
    'an operator-looking query means its words: foo and me, not "foo or not me"')
})

t.test('q: empty, over 200 characters or without a word is 400 naming /q', async (t) => {
  const user = await register(server.url)
  for (const [value, what] of [['', 'empty'], ['a'.repeat(201), 'too long'], ['&|!', 'punctuation'], ['   ', 'spaces'], [':* \\ \'', 'syntax only']]) {
    const response = await search(user, q(value!))
    isError(t, response, 400, 'validation_error', what)
    t.ok(response.body.errors.some((e: any) => e.field === '/q'), `${what}: names /q`)
  }
  isError(t, await search(user, ''), 400, 'validation_error', 'no q')
  isError(t, await search(user, q('x', '&limit=0')), 400, 'validation_error', 'limit 0')
  isError(t, await search(user, q('x', '&other=1')), 400, 'validation_error', 'unknown parameter')
  t.equal((await search(user, q('a'.repeat(200)))).status, 200, '200 characters')
})

t.test('only the rooms the caller is in; `room` narrows, and answers as the room routes do', async (t) => {
  const { owner, room, members: [bob] } = await roomWith(server.url, 1)
  const other = await createRoom(server.url, owner.token)
  const secret = await createRoom(server.url, owner.token, { is_private: true })
  await send(owner, room.name, `${w}shared one`)
  await send(owner, other.name, `${w}shared two`)
  await send(owner, secret.name, `${w}shared three`)
  t.same(await texts(owner, q(`${w}shared`)), [`${w}shared three`, `${w}shared two`, `${w}shared one`])
  t.same(await texts(bob!, q(`${w}shared`)), [`${w}shared one`], 'not the rooms bob is not in')
  t.same(await texts(owner, q(`${w}shared`, `&room=${other.name}`)), [`${w}shared two`])
  isError(t, await search(bob!, q(`${w}shared`, `&room=${other.name}`)), 403, 'permission_denied', 'public, not a member')
  isError(t, await search(bob!, q(`${w}shared`, `&room=${secret.name}`)), 404, 'not_found', 'private, not a member')
  isError(t, await search(bob!, q(`${w}shared`, '&room=no_such_room_at_all')), 404, 'not_found', 'no room')
  isError(t, await search(bob!, q(`${w}shared`, '&room=bad%20name')), 400, 'validation_error', 'bad room name')
  await api(server.url, 'POST', `/api/chat/groups/${room.name}/leave/`, { token: bob!.token })
  t.same(await texts(bob!, q(`${w}shared`)), [], 'a room left is not searched')
})

t.test('deleted messages never match; an edit replaces the words', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  const gone = await send(owner, room.name, `${w}secret plan`)
  const edited = await send(owner, room.name, `${w}old words`)
  await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/messages/${gone.id}/`, { token: owner.token })
  t.same(await texts(owner, q(`${w}secret`)), [])
  await api(server.url, 'PATCH', `/api/chat/groups/${room.name}/messages/${edited.id}/`, { token: owner.token, body: { message: `${w}new text` } })
  t.same(await texts(owner, q(`${w}old`)), [], 'the old words are gone')
  const found = (await search(owner, q(`${w}new`))).body.results
  t.match(found, [{ id: edited.id, message: `${w}new text` }], 'the current text')
  t.type(found[0].edited_at, 'string')
})

t.test('keyset pages with signed cursors, both ways', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  for (let k = 1; k <= 5; k++) await send(owner, room.name, `${w}paged ${k}`)
  const first = (await search(owner, q(`${w}paged`, '&limit=2'))).body
  t.same(first.results.map((m: any) => m.message), [`${w}paged 5`, `${w}paged 4`])
  t.equal(first.previous, null)
  const second = (await api(server.url, 'GET', first.next, { token: owner.token })).body
  t.same(second.results.map((m: any) => m.message), [`${w}paged 3`, `${w}paged 2`])
  const third = (await api(server.url, 'GET', second.next, { token: owner.token })).body
  t.same(third.results.map((m: any) => m.message), [`${w}paged 1`])
  t.equal(third.next, null)
  const back = (await api(server.url, 'GET', third.previous, { token: owner.token })).body
  t.same(back.results.map((m: any) => m.message), [`${w}paged 3`, `${w}paged 2`])
  const cursor = new URL(first.next).searchParams.get('cursor')!
  isError(t, await search(owner, q(`${w}other`, `&limit=2&cursor=${cursor}`)), 400, 'invalid_cursor', 'another search\'s cursor')
  isError(t, await search(owner, q(`${w}paged`, `&cursor=${cursor.slice(0, -2)}xx`)), 400, 'invalid_cursor', 'forged')
  const stranger = await register(server.url)
  isError(t, await search(stranger, q(`${w}paged`, `&limit=2&cursor=${cursor}`)), 400, 'invalid_cursor', 'another user\'s cursor')
})

t.test('a room longer than the window a search reads first: exact pages, from the window or from the index', async (t) => {
  const { owner, room } = await roomWith(server.url, 0)
  // Written straight into the table: 10,300 messages a second apart, more than the 10,000 a one-room search reads
  // newest first before it asks the GIN index. `often` (every 50th) fills pages from the windows; `rare` (seqs 7,
  // 150 and the fourth from last; 20, deleted) has a match in the newest 1,000, `old` (seqs 1-250) only seq 3 in
  // the newest 10,000, `deep` (seqs 5, 6) none: the index finds the rest. `late` is in the last message and in seq
  // 3, whose created_at is the newest of all: time, not seq, orders a search.
  const count = 10_300
  await server.app.database.query(`
    insert into messages (room_id, seq, rev, created_rev, sender_id, message, message_type, created_at, deleted, search)
    select $1::int, g, g, g, $2::int, t.text, 'text', timestamptz '2026-01-01' + make_interval(secs => g + case when g = 3 then $3::int else 0 end),
      g = 20, case when g = 20 then null else lower(t.text)::tsvector end
    from generate_series(1, $3::int) g, lateral (select 'message ' || g ||
      case when g in (7, 20, 150, $3::int - 3) then ' ${w}rare' else '' end ||
      case when g % 50 = 0 then ' ${w}often' else '' end ||
      case when g <= 250 then ' ${w}old' else '' end ||
      case when g in (5, 6) then ' ${w}deep' else '' end ||
      case when g in (3, $3::int) then ' ${w}late' else '' end as text) t`, [room.id, owner.user.id, count])
  await server.app.database.query('update rooms set last_seq = $2, last_rev = $2 where id = $1', [room.id, count])
  const seqs = async (query: string) => (await search(owner, query)).body.results.map((m: any) => m.seq)

  t.same(await seqs(q(`${w}rare`, `&room=${room.name}`)), [count - 3, 150, 7], 'a rare word (the deleted message never)')
  t.same(await seqs(q(`${w}deep`, `&room=${room.name}`)), [6, 5], 'none in the newest thousand: the index finds them')
  const old = [3, ...Array.from({ length: 250 }, (_, k) => 250 - k).filter((seq) => seq !== 3 && seq !== 20)] // 20 is deleted
  const oldPage = (await search(owner, q(`${w}old`, `&room=${room.name}&limit=100`))).body
  t.same(oldPage.results.map((m: any) => m.seq), old.slice(0, 100), 'one in the window: the index finds the rest')
  const oldNext = (await api(server.url, 'GET', oldPage.next, { token: owner.token })).body
  t.same(oldNext.results.map((m: any) => m.seq), old.slice(100, 200), 'and past a cursor')
  t.same(await seqs(q(`${w}late`, `&room=${room.name}`)), [3, count], 'newest first by created_at')
  t.same(await seqs(q(`${w}rare`)), [count - 3, 150, 7], 'the same over all the caller\'s rooms')

  const all: number[] = []
  let page = (await search(owner, q(`${w}often`, `&room=${room.name}&limit=50`))).body
  const pages = [page]
  for (;;) {
    all.push(...page.results.map((m: any) => m.seq))
    if (page.next === null) break
    page = (await api(server.url, 'GET', page.next, { token: owner.token })).body
    pages.push(page)
  }
  const expected = Array.from({ length: Math.floor(count / 50) }, (_, k) => (Math.floor(count / 50) - k) * 50)
  t.same(all, expected, 'every 50th message once, newest first, across the window and past it')
  t.equal(pages.length, 5)
  const back = (await api(server.url, 'GET', pages.at(-1).previous, { token: owner.token })).body
  t.same(back.results.map((m: any) => m.seq), pages.at(-2).results.map((m: any) => m.seq), 'and back')
})
