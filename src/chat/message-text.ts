/** The rules for a message's text: what a send or an edit may store, and whom it mentions. */

const MAX_MESSAGE_LENGTH = 4000
/** A reply keeps this many characters of the answered message. */
export const EXCERPT_LENGTH = 200

const isUrl = (value: string) => {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

/**
 * The text to store, or what is wrong with it (a message for the `/message` field). Surrounding whitespace is
 * trimmed; a lone surrogate becomes U+FFFD, as UTF-8 would have it; PostgreSQL text cannot hold NUL.
 */
export function normalizeText (text: string, messageType: string): { text: string } | { error: string } {
  if (text.includes('\u0000')) return { error: 'must not contain NUL characters' }
  const trimmed = text.toWellFormed().trim()
  const length = [...trimmed].length
  if (length < 1 || length > MAX_MESSAGE_LENGTH) return { error: `must be 1 to ${MAX_MESSAGE_LENGTH} characters after trimming` }
  if (messageType !== 'text' && !isUrl(trimmed)) return { error: `an ${messageType} message must be its http(s) URL` }
  return { text: trimmed }
}

/** A send as a socket frame or a REST body has it. */
interface SendFields { message: string, message_type?: 'text' | 'image' | 'file', client_id?: string, reply_to?: number | null }

/** A send ready for the writer, or the field that is wrong with it and why: the same rules for the socket and REST. */
export function normalizeSend (send: SendFields):
{ message: string, messageType: 'text' | 'image' | 'file', clientId: string | null, replyTo: number | null } | { field: string, error: string } {
  // PostgreSQL text cannot hold NUL: one stored in a group-commit batch would fail every send in that batch.
  if (send.client_id?.includes('\u0000') === true) return { field: '/client_id', error: 'must not contain NUL characters' }
  const messageType = send.message_type ?? 'text'
  const text = normalizeText(send.message, messageType)
  if ('error' in text) return { field: '/message', error: text.error }
  return { message: text.text, messageType, clientId: send.client_id?.toWellFormed() ?? null, replyTo: send.reply_to ?? null }
}

/** The characters of a username (see the Username schema). */
const USERNAME_CHAR = /[A-Za-z0-9@.+_-]/

/**
 * The usernames a text mentions, lowercased, in order of first mention, without repeats: `@` at the start or after
 * a character that cannot be in a username, then the longest run of username characters, trailing dots removed.
 * Which of them are members of the room is the database's to say.
 */
export function mentionedNames (text: string): string[] {
  const names: string[] = []
  for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
    if (i > 0 && USERNAME_CHAR.test(text[i - 1]!)) continue
    let end = i + 1
    while (end < text.length && USERNAME_CHAR.test(text[end]!)) end++
    const name = text.slice(i + 1, end).replace(/\.+$/, '').toLowerCase()
    if (name.length > 0 && !names.includes(name)) names.push(name)
    i = end - 1
  }
  return names
}

/** A reaction's emoji: 1..32 code points, none of them whitespace or a control character. */
export const isEmoji = (emoji: string) => /^[^\s\p{Cc}]{1,32}$/u.test(emoji)

/** A word, for search: a run of letters and digits, of any script (with their combining marks). */
const WORD = /[\p{L}\p{M}\p{N}]+/gu
/** Longer words are kept by their start: a query word is at most 200 characters, and a lexeme at most 2 KiB. */
const MAX_WORD_LENGTH = 256

/** The lowercased words of a text, in order. */
const words = (text: string) =>
  Array.from(text.toLowerCase().matchAll(WORD), ([word]) => [...word].slice(0, MAX_WORD_LENGTH).join(''))

/**
 * A text's words as a tsvector literal (letters and digits need no quoting): what the search index holds. Split
 * here, not by a PostgreSQL parser, so that the embedded database and PostgreSQL find the same words whatever
 * their locale.
 */
export const searchVector = (text: string) => [...new Set(words(text))].join(' ')

/**
 * A search as a tsquery literal: every word, the last one also as a prefix; undefined when `q` has no word. Only
 * letters and digits reach it, so `&`, `|`, `!`, `:*`, quotes and backslashes in `q` are never operators.
 */
export function searchQuery (q: string): string | undefined {
  const all = words(q)
  if (all.length === 0) return undefined
  return all.map((word, i) => i === all.length - 1 ? `${word}:*` : word).join(' & ')
}
