import type { User } from '../client/index.js'

export interface Auth { token: string, user: User }

const KEY = 'chat:auth'

/** The signed-in user, kept across reloads. */
export function loadAuth (): Auth | undefined {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Auth | null
    return parsed !== null && typeof parsed.token === 'string' ? parsed : undefined
  } catch {
    return undefined
  }
}

export function saveAuth (auth: Auth | undefined): void {
  if (auth === undefined) localStorage.removeItem(KEY)
  else localStorage.setItem(KEY, JSON.stringify(auth))
}
