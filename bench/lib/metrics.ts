import { call } from './api.js'

/**
 * The group-commit figures from our server's Prometheus endpoint (`chat_commit_batch_size` sum and count over all
 * instances); undefined for a server without them (the baseline).
 */
export async function commitTotals (urls: string[]): Promise<{ messages: number, commits: number } | undefined> {
  let messages = 0
  let commits = 0
  for (const url of urls) {
    const reply = await call<string>(url, 'GET', '/metrics', { timeoutMs: 5000 }).catch(() => undefined)
    if (reply?.status !== 200 || typeof reply.body !== 'string') return undefined
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(reply.body)?.[1] ?? NaN)
    messages += value('chat_commit_batch_size_sum')
    commits += value('chat_commit_batch_size_count')
  }
  return Number.isFinite(messages) && Number.isFinite(commits) ? { messages, commits } : undefined
}
