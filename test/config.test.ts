import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigSchema, loadConfig } from '../src/config.js'
import { rootDir } from '../src/paths.js'

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
