import { createHash, randomBytes } from 'node:crypto'

const TOKEN_PATTERN = /^[0-9a-f]{40}$/

/** A new API token: 160 random bits as 40 lowercase hex characters, the DRF token format. */
export const newToken = (): string => randomBytes(20).toString('hex')

/** Only this hash is stored; lookups go by hash, so no stored secret is ever compared. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex')

export const isWellFormedToken = (token: string): boolean => TOKEN_PATTERN.test(token)

/** The token of an `Authorization: Token <t>` (DRF) or `Bearer <t>` header; undefined when absent or another scheme. */
export function tokenFromAuthorization (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(header)
  return match?.[1] ?? (header.trim() === '' ? undefined : '')
}
