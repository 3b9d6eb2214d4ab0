import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigSchema, loadConfig, loadEnvFile } from '../src/config.js'
import { rootDir } from '../src/paths.js'
import { entry, entryEnv } from './helpers/entry.js'

const readme = readFileSync(join(rootDir, 'README.md'), 'utf8')
const example = readFileSync(join(rootDir, '.env.example'), 'utf8')

t.test('every setting is in the README configuration table and in .env.example', async (t) => {
  for (const name of Object.keys(ConfigSchema.properties)) {
    t.match(readme, new RegExp(`\\| \`${name}\`|\` / \`${name}\``), `${name} in the README table`)
    t.match(example, new RegExp(`^#? ?${name}=`, 'm'), `${name} in .env.example`)
  }
})

t.test('the .env.example values are valid and are the defaults', async (t) => {
  const values: Record<string, string> = {}
  for (const line of example.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line)
    if (match !== null) values[match[1]!] = match[2]!
  }
  t.same(loadConfig(values), loadConfig({}), 'uncommented entries restate the defaults')
})

t.test('bad settings are refused with the variable named', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
  t.throws(() => loadConfig({ SECRET_KEY: 'short' }), /SECRET_KEY/)
  t.equal(loadConfig({ PORT: '9000', TRUST_PROXY: 'true' }).PORT, 9000)
})

t.test('.env is read when it exists, and variables already set win', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-env-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, '.env')
  t.equal(loadEnvFile(file), false, 'no file: nothing read')
  writeFileSync(file, 'CHAT_ENV_TEST_SET=from the file\nCHAT_ENV_TEST_UNSET=from the file\n')
  process.env.CHAT_ENV_TEST_SET = 'from the environment'
  t.teardown(() => { delete process.env.CHAT_ENV_TEST_SET; delete process.env.CHAT_ENV_TEST_UNSET })
  t.equal(loadEnvFile(file), true)
  t.equal(process.env.CHAT_ENV_TEST_SET, 'from the environment', 'the environment wins')
  t.equal(process.env.CHAT_ENV_TEST_UNSET, 'from the file', 'the file fills in the rest')
})

t.test('the server reads ./.env at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-env-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A bad value in .env, so the server stops at its configuration, before it opens anything.
  writeFileSync(join(dir, '.env'), 'LOG_LEVEL=loud\n')
  const env = { ...process.env, ...entryEnv }
  delete env.LOG_LEVEL
  const child = spawn(process.execPath, entry('src/server'), { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  t.equal(code, 1)
  t.match(stderr, /could not start: Invalid configuration:\s+LOG_LEVEL/, 'the value came from .env')
})
