/**
 * `npm run openapi`: writes openapi.json (the server's own document: the app is built against an in-memory
 * database, never started), asyncapi.yaml, and the SDK types the client test uses.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { buildServer } from '../src/build.js'
import { loadConfig } from '../src/config.js'
import { rootDir } from '../src/paths.js'
import { artifactFiles, openApiText, sdkTypesText } from '../src/docs/artifacts.js'
import { asyncApiYaml } from '../src/docs/asyncapi.js'

// Run from source (tsx), the app autoloads plugins/ and routes/ as TypeScript.
if (import.meta.url.endsWith('.ts')) process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'
const config = loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'warn' })
// Creating and migrating an in-memory database takes longer than Fastify's default plugin timeout.
const app = await buildServer(config, { pluginTimeout: 120_000 })
try {
  await app.ready()
  const openapi = openApiText(app.swagger())
  write(artifactFiles.openapi, openapi)
  write(artifactFiles.asyncapi, asyncApiYaml())
  write(artifactFiles.sdkTypes, await sdkTypesText(openapi))
} finally {
  await app.close()
}

/** Writes one generated file and says so. */
function write (file: string, text: string) {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
  console.log(`wrote ${relative(rootDir, file)}`)
}
