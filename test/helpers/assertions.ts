import { eq } from 'drizzle-orm'
import type { Test } from 'tap'
import { users } from '../../src/db/schema/index.js'
import type { Account, ApiResponse } from './client.js'
import type { TestServer } from './server.js'

/**
 * The API's error body: the status and code, exactly `detail` and `code`, plus `errors` ({field, message}
 * items) for every validation error.
 */
export function isError (t: Test, response: Pick<ApiResponse, 'status' | 'body'>, status: number, code: string, what = '') {
  t.equal(response.status, status, `${what} status ${status}`.trim())
  t.equal(response.body?.code, code, `${what} code ${code}`.trim())
  t.type(response.body?.detail, 'string')
  const keys = code === 'validation_error' ? ['code', 'detail', 'errors'] : ['code', 'detail']
  t.same(Object.keys(response.body ?? {}).sort(), keys, `${what} error body keys`.trim())
  for (const item of response.body?.errors ?? []) {
    t.same(Object.keys(item).sort(), ['field', 'message'], `${what} errors item keys`.trim())
    t.type(item.field, 'string')
    t.type(item.message, 'string')
  }
}

/** Makes a user staff, straight in the database (there is no API for it, by design). */
export async function makeStaff (server: TestServer, account: Account) {
  await server.app.database.orm.update(users).set({ isStaff: true }).where(eq(users.id, account.user.id))
}
