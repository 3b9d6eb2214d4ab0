import type { Cursor } from './cursor.js'

/**
 * Keyset (seek) pagination over any ordered key: every page is one index range scan, at any depth.
 * `fetch('n', key)` returns rows after `key` in page order, `fetch('p', key)` rows before it, nearest first;
 * both return up to `limit` rows, and are asked for one more than the page to learn whether another follows.
 */
export interface KeysetPage<T, K> {
  results: T[]
  next: Cursor<K> | null
  previous: Cursor<K> | null
}

export async function keysetPage<T, K> (
  cursor: Cursor<K> | undefined,
  limit: number,
  fetch: (direction: 'n' | 'p', key: K | undefined, limit: number) => Promise<T[]>,
  keyOf: (row: T) => K
): Promise<KeysetPage<T, K>> {
  if (cursor?.direction === 'p') {
    const rows = await fetch('p', cursor.key, limit + 1)
    const results = rows.slice(0, limit).reverse()
    const first = results[0]
    const last = results.at(-1)
    return {
      results,
      previous: rows.length > limit && first !== undefined ? { direction: 'p', key: keyOf(first) } : null,
      // We came back from the page after this one, so it exists.
      next: { direction: 'n', key: last === undefined ? cursor.key : keyOf(last) }
    }
  }
  const rows = await fetch('n', cursor?.key, limit + 1)
  const results = rows.slice(0, limit)
  const first = results[0]
  const last = results.at(-1)
  return {
    results,
    next: rows.length > limit && last !== undefined ? { direction: 'n', key: keyOf(last) } : null,
    previous: cursor !== undefined && first !== undefined ? { direction: 'p', key: keyOf(first) } : null
  }
}
