/** The URL with its `token` query parameter masked (the product document puts the token in the socket URL). */
export function redactUrl (url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]')
}

/** A log record with the `token` query parameter masked in each of its top-level strings. */
export function redactStrings (record: Record<string, unknown>): Record<string, unknown> {
  let redacted: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(record)) {
    if (typeof value !== 'string' || !/token=/i.test(value)) continue
    redacted ??= { ...record }
    redacted[key] = redactUrl(value)
  }
  return redacted ?? record
}
