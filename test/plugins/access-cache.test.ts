import t from 'tap'
import { AccessCache, type AccessTags } from '../../src/chat/access-cache.js'
import { lookups, refused, upgradeOnce } from '../helpers/access.js'
import { api, roomWith } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

t.test('one process (in-memory broker): a cached admission is dropped at once', async (t) => {
  const server = await startServer(t)

  t.test('a second upgrade with the same token and room is answered from the cache', async (t) => {
    const { owner, room } = await roomWith(server.url, 0)
    await upgradeOnce(server.wsUrl, room.name, owner.token)
    const before = await lookups(server.url)
    await upgradeOnce(server.wsUrl, room.name, owner.token)
    const after = await lookups(server.url)
    t.equal(after.hit - before.hit, 2, 'the token and room, and the membership at join, both hits')
    t.equal(after.read - before.read, 0, 'no database lookup')
  })

  t.test('logout: the cached token is refused with 401 at the next upgrade', async (t) => {
    const { owner, room } = await roomWith(server.url, 0)
    await upgradeOnce(server.wsUrl, room.name, owner.token)
    await upgradeOnce(server.wsUrl, room.name, owner.token)
    t.equal((await api(server.url, 'POST', '/api/auth/logout/', { token: owner.token })).status, 204)
    await refused(t, server.wsUrl, room.name, owner.token, 401, 'the revoked token is refused')
  })

  t.test('removal, leaving and deletion: the cached membership admits no more', async (t) => {
    const { owner, room, members: [removed, leaver] } = await roomWith(server.url, 2)
    for (const account of [owner, removed!, leaver!]) await upgradeOnce(server.wsUrl, room.name, account.token)
    t.equal((await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/members/${removed!.user.username}/`,
      { token: owner.token })).status, 204)
    await refused(t, server.wsUrl, room.name, removed!.token, 403, 'a removed member gets 403')
    t.equal((await api(server.url, 'POST', `/api/chat/groups/${room.name}/leave/`, { token: leaver!.token })).status, 204)
    await refused(t, server.wsUrl, room.name, leaver!.token, 403, 'a member who left gets 403')
    t.equal((await api(server.url, 'DELETE', `/api/chat/groups/${room.name}/`, { token: owner.token })).status, 204)
    await refused(t, server.wsUrl, room.name, owner.token, 404, 'the deleted room is not found')
  })

  t.test('bad input still gets the contract\'s errors, and refusals are not cached', async (t) => {
    const { owner, room, members: [member] } = await roomWith(server.url, 1)
    await upgradeOnce(server.wsUrl, room.name, member!.token)
    await refused(t, server.wsUrl, room.name, 'x'.repeat(40), 401, 'an unknown token: 401')
    await refused(t, server.wsUrl, `${room.name}-none`, owner.token, 404, 'an unknown room: 404')
    const { room: other } = await roomWith(server.url, 0, { is_private: true })
    await refused(t, server.wsUrl, other.name, member!.token, 404, 'a private room of others: 404')
    const before = await lookups(server.url)
    await refused(t, server.wsUrl, other.name, member!.token, 404, 'and again 404')
    t.equal((await lookups(server.url)).read - before.read, 1, 'the refusal was read again, not cached')
  })
})

t.test('the cache itself', async (t) => {
  const tags: AccessTags = { tokenId: 1, roomId: 1, userId: 1 }
  const always = () => tags

  t.test('a lookup under way when an invalidation comes does not fill the cache', async (t) => {
    const cache = new AccessCache({ ttlMs: 60_000, maxEntries: 10, live: () => true })
    let finish: (value: string) => void = () => {}
    const stale = cache.get('k', () => new Promise<string>((resolve) => { finish = resolve }), always)
    cache.invalidate((entry) => entry.tokenId === 1)
    let reads = 0
    const fresh = cache.get('k', async () => { reads++; return 'after' }, always)
    finish('before')
    t.equal(await stale, 'before', 'the lookup that started first answers its caller')
    t.equal(await fresh, 'after', 'a lookup after the invalidation does not share the one before it')
    t.equal(await cache.get('k', async () => { reads++; return 'again' }, always), 'after', 'the fresh value is cached')
    t.equal(reads, 1)
  })

  t.test('concurrent lookups of one key share one read', async (t) => {
    const cache = new AccessCache({ ttlMs: 60_000, maxEntries: 10, live: () => true })
    let reads = 0
    const values = await Promise.all(Array.from({ length: 100 }, () =>
      cache.get('k', async () => { reads++; return reads }, always)))
    t.same(new Set(values), new Set([1]))
    t.equal(reads, 1)
  })

  t.test('bounded: the least recently used entry goes first', async (t) => {
    const cache = new AccessCache({ ttlMs: 60_000, maxEntries: 3, live: () => true })
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => key, always)
    await cache.get('a', async () => 'reread', always)
    await cache.get('d', async () => 'd', always)
    t.equal(cache.size, 3)
    t.equal(await cache.get('a', async () => 'reread', always), 'a', 'the entry used lately stays')
    t.equal(await cache.get('b', async () => 'reread', always), 'reread', 'the oldest one was dropped')
  })

  t.test('expired entries are read again; nothing is kept while invalidations cannot arrive', async (t) => {
    let live = true
    const cache = new AccessCache({ ttlMs: 0, maxEntries: 3, live: () => live })
    await cache.get('a', async () => 1, always)
    t.equal(await cache.get('a', async () => 2, always), 2, 'a TTL of 0 keeps nothing')
    const kept = new AccessCache({ ttlMs: 60_000, maxEntries: 3, live: () => live })
    await kept.get('a', async () => 1, always)
    live = false
    t.equal(await kept.get('a', async () => 2, always), 2, 'while not live, the database answers')
    t.equal(kept.size, 0, 'and the cache is emptied')
    live = true
    t.equal(await kept.get('a', async () => 3, always), 3, 'back: read again')
  })
})
