/** What an entry grants, so that a revocation finds it: a token, a room, a user. */
export interface AccessTags { tokenId?: number, roomId: number, userId: number }

export interface AccessCacheOptions {
  ttlMs: number
  maxEntries: number
  /** Whether this instance hears invalidations now (the broker's subscription is up): when not, nothing is cached. */
  live: () => boolean
  /** Counts each lookup by how it was answered (metrics). */
  count?: (outcome: LookupOutcome) => void
}

/** From the cache, from a lookup already under way, from the database, or from the database with the cache off. */
export type LookupOutcome = 'hit' | 'shared' | 'read' | 'bypass'

interface Entry { value: unknown, tags: AccessTags, expires: number }

/**
 * What a socket upgrade reads (the token's user, the room, the membership), kept a few seconds so that a reconnect
 * storm costs one database lookup per token and room, not one per socket. Concurrent lookups of one key share one
 * query. Entries are dropped by the control events that revoke access (logout, removal, room deletion: see
 * ChatHub.onControlEvent), on every instance; a lookup that was under way when one came does not fill the cache
 * (the epoch moved), since it may have read the state from before. While the broker is down, or after it comes back
 * (events were lost), nothing cached is served.
 * @see docs/benchmarks.md, connect storm (issue 15, item 3)
 */
export class AccessCache {
  private readonly entries = new Map<string, Entry>()
  private readonly loading = new Map<string, Promise<unknown>>()
  /** Moves at every invalidation: a lookup that started before one does not fill the cache. */
  private epoch = 0

  constructor (private readonly options: AccessCacheOptions) {}

  get size (): number { return this.entries.size }

  /**
   * The value of `key`, cached or loaded. `tags` says what a loaded value grants, or undefined when it must not be
   * kept (a refusal: refusals are answered from the database, so a room or membership created since is seen).
   */
  async get<T> (key: string, load: () => Promise<T>, tags: (value: T) => AccessTags | undefined): Promise<T> {
    const { live, count = () => {} } = this.options
    if (!live()) {
      if (this.entries.size > 0 || this.loading.size > 0) this.clear()
      count('bypass')
      return await load()
    }
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      if (entry.expires > Date.now()) {
        // Least recently used first in the map's order: a hit moves to the end.
        this.entries.delete(key)
        this.entries.set(key, entry)
        count('hit')
        return entry.value as T
      }
      this.entries.delete(key)
    }
    const pending = this.loading.get(key)
    if (pending !== undefined) {
      count('shared')
      return await (pending as Promise<T>)
    }
    count('read')
    const epoch = this.epoch
    const loaded = load().then((value) => {
      const granted = tags(value)
      if (granted !== undefined && epoch === this.epoch && live()) this.put(key, value, granted)
      return value
    }).finally(() => { if (this.loading.get(key) === loaded) this.loading.delete(key) })
    this.loading.set(key, loaded)
    return await loaded
  }

  /** Drops every entry `match` picks; lookups under way neither fill the cache nor are shared from now on. */
  invalidate (match: (tags: AccessTags) => boolean): void {
    this.epoch++
    this.loading.clear()
    for (const [key, entry] of this.entries) if (match(entry.tags)) this.entries.delete(key)
  }

  clear (): void {
    this.invalidate(() => true)
  }

  private put (key: string, value: unknown, tags: AccessTags): void {
    this.entries.delete(key)
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, { value, tags, expires: Date.now() + this.options.ttlMs })
  }
}
