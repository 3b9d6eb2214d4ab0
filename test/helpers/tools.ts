import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

/** Whether `command` (a name looked up on PATH, or an absolute path) can be run. */
export function installed (command: string): boolean {
  const candidates = isAbsolute(command)
    ? [command]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command))
  return candidates.some((file) => {
    try { accessSync(file, constants.X_OK); return true } catch { return false }
  })
}

/**
 * Fails the calling test with one line naming a tool it needs and the Debian package that has it, instead of the stack
 * trace a failed spawn would give. The README's Development section lists every tool `npm test` needs.
 */
export function requireTool (command: string, debianPackage: string): void {
  if (installed(command)) return
  const name = command.split('/').pop()
  const error = new Error(`${name} is not installed; this test needs it: apt-get install -y ${debianPackage}`)
  // No stack: tap then reports the message alone, where a stack would point into this helper.
  error.stack = error.message
  throw error
}
