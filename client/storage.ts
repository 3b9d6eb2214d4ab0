/** Where the outbox keeps unacknowledged sends across page reloads. Synchronous, like localStorage. */
export interface ChatStorage {
  get: (key: string) => string | null
  set: (key: string, value: string) => void
  remove: (key: string) => void
}

/** Keeps nothing across reloads (the default). */
export function memoryStorage (): ChatStorage {
  const map = new Map<string, string>()
  return {
    get: (key) => map.get(key) ?? null,
    set: (key, value) => { map.set(key, value) },
    remove: (key) => { map.delete(key) }
  }
}

interface WebStorage {
  getItem: (key: string) => string | null
  setItem: (key: string, value: string) => void
  removeItem: (key: string) => void
}

/** A Web Storage (`window.localStorage`) as ChatStorage; a full or disabled one keeps the outbox in memory only. */
export function webStorage (storage: WebStorage, prefix = 'chat:'): ChatStorage {
  return {
    get: (key) => { try { return storage.getItem(prefix + key) } catch { return null } },
    set: (key, value) => { try { storage.setItem(prefix + key, value) } catch {} },
    remove: (key) => { try { storage.removeItem(prefix + key) } catch {} }
  }
}
