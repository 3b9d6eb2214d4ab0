/** The URL with its `token` query parameter masked (the product document puts the token in the socket URL). */
export function redactUrl (url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]')
}
