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

/** Environment for such a process: autoload must be told it may load TypeScript only when it runs the sources. */
export const entryEnv: Record<string, string> = compiled ? {} : { FASTIFY_AUTOLOAD_TYPESCRIPT: '1' }
