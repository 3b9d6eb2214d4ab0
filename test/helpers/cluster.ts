import { randomBytes } from 'node:crypto'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import postgres from 'postgres'
import { uniqueName } from './client.js'
import { entry, entryEnv } from './entry.js'
import { freshDatabase } from './server.js'
import { requireTool } from './tools.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/** A free TCP port on 127.0.0.1. */
async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Polls `check` until it resolves truthy; rejects after `timeoutMs`. A bounded wait for a process to come up. */
export async function waitUntil (what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(50)
  }
}

export interface Service { url: string, stop: () => Promise<void>, start: () => Promise<void> }

/** A throwaway Redis on a random port (never the machine's shared one); can be stopped and started again. */
export async function startRedis (t: Teardown): Promise<Service> {
  requireTool('redis-server', 'redis-server')
  requireTool('redis-cli', 'redis-server')
  const port = await freePort()
  let child: ChildProcess | undefined
  const ping = () => new Promise<boolean>((resolve) => {
    const probe = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2000 })
    resolve(probe.stdout?.trim() === 'PONG')
  })
  const service: Service = {
    url: `redis://127.0.0.1:${port}`,
    async start () {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' })
      await waitUntil('redis', ping)
    },
    async stop () {
      if (child === undefined || child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
  }
  await service.start()
  t.teardown(() => service.stop())
  return service
}

const pgBin = (name: string) => {
  const found = spawnSync('sh', ['-c', `ls /usr/lib/postgresql/*/bin/${name} | sort -V | tail -n1`], { encoding: 'utf8' })
  return found.stdout.trim() || name
}

/**
 * A throwaway PostgreSQL server (initdb into a temporary directory, random port), for tests that stop the database.
 * As root, the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export async function startPostgres (t: Teardown): Promise<Service> {
  requireTool(pgBin('initdb'), 'postgresql')
  requireTool(pgBin('pg_ctl'), 'postgresql')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'chat-pg-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()
    chownSync(dir, Number(ids), Number(gid))
  }
  const run = (command: string, args: string[]) => {
    const result = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8', timeout: 60_000 })
      : spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 })
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`)
  }
  run(pgBin('initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const reachable = async () => {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} })
    try { await sql`select 1`; return true } finally { await sql.end({ timeout: 1 }) }
  }
  const service: Service = {
    url,
    async start () {
      run(pgBin('pg_ctl'), ['-D', join(dir, 'data'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        '-l', join(dir, 'log'), '-w', 'start'])
      await waitUntil('postgres', reachable)
    },
    async stop () {
      run(pgBin('pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'])
    }
  }
  await service.start()
  t.teardown(async () => {
    await service.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  return service
}

/** A PostgreSQL database for several instances: from TEST_DATABASE_URL when set, else on a throwaway server. */
export async function sharedDatabase (t: Teardown): Promise<string> {
  if (process.env.TEST_DATABASE_URL !== undefined && process.env.TEST_DATABASE_URL !== '') {
    return (await freshDatabase(t)).DATABASE_URL!
  }
  return (await startPostgres(t)).url
}

export interface Instance {
  url: string
  wsUrl: string
  child: ChildProcess
  output: () => string
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>
}

/**
 * Starts the server as its own process (as production runs it) and waits until it answers /healthz. The port is
 * free when picked but can be taken by another test file's instance before this one binds it: the instance proves
 * it is this one by its own METRICS_TOKEN, and one that is not is started again on another port.
 */
export async function spawnInstance (t: Teardown, env: Record<string, string>, port?: number): Promise<Instance> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const instance = await spawnOnce(t, env, port)
    if (instance !== undefined) return instance
  }
  throw new Error('could not start an instance on a port of its own')
}

/** `fixed`: the port to start on (a restart on the port the clients know), else a free one. */
async function spawnOnce (t: Teardown, env: Record<string, string>, fixed?: number): Promise<Instance | undefined> {
  const port = fixed ?? await freePort()
  const identity = env.METRICS_TOKEN ?? randomBytes(16).toString('hex')
  const child = spawn(process.execPath, entry('src/server'), {
    env: {
      ...process.env,
      ...entryEnv,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_TOKEN: identity,
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  }
  t.teardown(kill)
  const url = `http://127.0.0.1:${port}`
  await Promise.race([
    waitUntil(`instance on ${port}`, async () => (await fetch(`${url}/healthz`)).ok, 60_000),
    exited.then((code) => { throw new Error(`instance exited with ${code}: ${output}`) })
  ]).catch(async (error: unknown) => {
    // Lost the port to another process: try another.
    if (output.includes('EADDRINUSE')) return
    throw error
  })
  const metrics = (token: string) => fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    .then(async (response) => { await response.arrayBuffer(); return response.status }, () => 0)
  const ours = child.exitCode === null && await metrics(identity) === 200 && await metrics(`not-${identity}`) === 401
  if (!ours) {
    await kill()
    return undefined
  }
  return { url, wsUrl: `ws://127.0.0.1:${port}`, child, output: () => output, exited }
}

/** A Redis key prefix of its own, so that runs sharing a Redis never see each other's events. */
export const redisPrefix = () => `${uniqueName('t')}:`

/**
 * What several instances share: one PostgreSQL database and a throwaway Redis (returned, to stop and start it).
 * `extra` adds settings, such as shorter intervals for a test.
 */
export async function clusterEnv (t: Teardown, extra: Record<string, string> = {}) {
  const redis = await startRedis(t)
  const env = { DATABASE_URL: await sharedDatabase(t), REDIS_URL: redis.url, REDIS_PREFIX: redisPrefix(), ...extra }
  return { env, redis }
}
