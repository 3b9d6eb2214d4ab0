/** What the main thread and the embedded database's worker (src/db/embedded-worker.ts) say to each other. */

/** Query options as data: the row mode, and the type oids whose values stay text (drizzle's parsers). */
export interface WireOptions { rowMode?: 'array' | 'object' | undefined, asText: number[] }

export type Request =
  | { id: number, op: 'query', text: string, params: unknown[] | undefined, options?: WireOptions | undefined, tx?: number | undefined }
  /** A statement with its plan kept: prepared once, then run with a generic plan made through indexes. */
  | { id: number, op: 'kept', text: string, params: unknown[] }
  | { id: number, op: 'begin' }
  | { id: number, op: 'end', tx: number, commit: boolean }
  | { id: number, op: 'close' }

/** The answer to request `id` (0: the worker has opened the database). */
export type Reply =
  | { id: number, result: unknown, error?: undefined }
  | { id: number, error: { name: string, message: string, [field: string]: unknown } }
