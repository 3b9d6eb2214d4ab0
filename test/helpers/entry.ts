import { join } from 'node:path'
import { rootDir } from '../../src/paths.js'

/**
 * The tests run compiled (`npm test` builds everything into .build/ once, so no test process transpiles
 * TypeScript) or from the sources under a TypeScript loader. A server they start as its own process runs the same
 * way: `entry('src/server')` is the node arguments for it.
 */
const compiled = import.meta.url.includes('/.build/')

export function entry (module: string): string[] {
  return compiled ? [join(rootDir, '.build', `${module}.js`)] : ['--import', 'tsx', join(rootDir, `${module}.ts`)]
}

/**
 * Environment for such a process, and for the servers the tests start in their own: autoload must be told it may
 * load TypeScript only when it runs the sources; passwords are hashed at scrypt's least cost accepted (48 ms of a
 * core per hash at the default; test/routes/api/auth.test.ts checks the default).
 */
export const entryEnv: Record<string, string> = {
  PASSWORD_SCRYPT_N: '1024',
  ...compiled ? {} : { FASTIFY_AUTOLOAD_TYPESCRIPT: '1' }
}
