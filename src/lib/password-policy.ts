import { commonPasswords } from './common-passwords.js'
import { HttpError } from './http-error.js'

// A password that holds the username must have at least this many characters besides it (the length rule's 8).
const OTHER_CHARACTERS = 8
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu
const BLANK = /[\p{White_Space}]/gu

/**
 * Why a new password is too easy to guess, or undefined. Lengths are the schema's; this refuses what a guesser tries
 * first: nothing but whitespace, the username (in any case, or with a few characters added), and the most common
 * passwords, compared as they are hashed (NFKC) without invisible characters, surrounding whitespace and case.
 */
function passwordWeakness (password: string, username: string): string | undefined {
  // Invisible characters (zero-width spaces, joiners, controls) are no more a secret than spaces are.
  const folded = password.normalize('NFKC').replace(INVISIBLE, '').trim().toLowerCase()
  if (folded.replace(BLANK, '') === '') return 'must not be only whitespace'
  const name = username.toLowerCase()
  if (folded === name) return 'must not be the username'
  if (folded.includes(name) && [...folded.replaceAll(name, '')].length < OTHER_CHARACTERS) {
    return `must have at least ${OTHER_CHARACTERS} characters besides the username`
  }
  if (commonPasswords.has(folded)) return 'is one of the most common passwords'
  return undefined
}

/** Refuses a weak new password as the schema refuses a bad field: 400 `validation_error` on `/password`. */
export function assertStrongPassword (password: string, username: string): void {
  const weakness = passwordWeakness(password, username)
  if (weakness !== undefined) throw new HttpError(400, 'validation_error', 'Invalid body.', [{ field: '/password', message: weakness }])
}
