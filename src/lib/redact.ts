/** A query parameter's name as a query parser reads it: percent-decoded (repeatedly, in case a proxy decodes too). */
export function decodedName (name: string): string {
  let decoded = name.replace(/\+/g, ' ')
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    try {
      decoded = decodeURIComponent(decoded)
    } catch {
      break
    }
  }
  return decoded.toLowerCase()
}

/**
 * The URL with every query parameter whose decoded name holds `token` masked: `token=`, and the variants a parser
 * also reads as a token (`%74oken=`, `token[]=`). Clients may put the token in the socket URL.
 */
export function redactUrl (url: string): string {
  return url.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, separator: string, name: string) =>
    decodedName(name).includes('token') ? `${separator}${name}=[redacted]` : whole)
}

/** A log record with token query parameters masked in each of its top-level strings. */
export function redactStrings (record: Record<string, unknown>): Record<string, unknown> {
  let redacted: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(record)) {
    if (typeof value !== 'string' || !value.includes('=')) continue
    const masked = redactUrl(value)
    if (masked === value) continue
    redacted ??= { ...record }
    redacted[key] = masked
  }
  return redacted ?? record
}
