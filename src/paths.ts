import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root, found the same way from src/ (tests, tsx) and from dist/src/ (production). */
function findRoot (from: string): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${from}`)
    dir = parent
  }
  return dir
}

export const rootDir = findRoot(dirname(fileURLToPath(import.meta.url)))
export const migrationsDir = join(rootDir, 'drizzle')
