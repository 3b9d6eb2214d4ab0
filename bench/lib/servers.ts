import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import postgres from 'postgres'
import { waitHealthy } from './api.js'

export const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '')
/** A private build: `dist/` may be in use by others, and `.cache/` is ignored by git. */
const buildDir = join(root, '.cache', 'bench-build')
/** Where the build of a checkout goes: this one's, or another's that is compared with it (`--against`). */
const buildDirOf = (checkout: string) => checkout === root ? buildDir : join(checkout, '.cache', 'bench-build')
/** Each server's output (LOG_LEVEL=warn: warnings and errors) goes to a file here. */
const logDir = join(root, '.cache', 'bench-logs')

/** Raises the soft open-files limit to the hard one for the child (10,000 sockets need 10,000+ descriptors). */
const withFileLimit = (command: string, args: string[]) =>
  ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', command, ...args]] as const

export interface Server {
  name: string
  url: string
  pid: number
  logFile: string
  /** How the load generator speaks to it: the API's sockets (ours and the baseline), or Socket.IO's. */
  protocol: 'api' | 'socketio'
  /** The PostgreSQL database it serves, if any: the load generator reads its backends' CPU. */
  databaseUrl?: string | undefined
  stop: () => Promise<void>
}

/** A free TCP port on 127.0.0.1. */
function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Starts a child process serving HTTP on `port` and waits until /healthz answers. */
async function startProcess (name: string, command: string, args: string[], env: Record<string, string>,
  port: number, protocol: Server['protocol'] = 'api'): Promise<Server> {
  const [sh, shArgs] = withFileLimit(command, args)
  const child: ChildProcess = spawn(sh, shArgs, {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  mkdirSync(logDir, { recursive: true })
  const logFile = join(logDir, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}-${child.pid}.log`)
  const file = createWriteStream(logFile)
  let output = ''
  const keep = (chunk: Buffer) => {
    file.write(chunk)
    output = (output + chunk.toString()).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  child.once('exit', () => file.end())
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve() }))
  const url = `http://127.0.0.1:${port}`
  try {
    await waitHealthy(url, 90_000, () => !exited)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${name} did not start: ${(error as Error).message}\n${output}`)
  }
  return {
    name,
    url,
    pid: child.pid!,
    logFile,
    protocol,
    async stop () {
      if (exited) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exit
      clearTimeout(timer)
    }
  }
}

/**
 * Node flags of every server the bench starts: a full collection on demand, for the idle mode, and the event loop's
 * delay over a window, for the traffic modes (see the files).
 */
const GC_ON_SIGNAL = ['--expose-gc', '--import', join(root, 'bench/lib/gc-on-signal.mjs'), '--import', join(root, 'bench/lib/loop-delay.mjs')]

/** The bare `ws` baseline: corked for the tick, as ours (bench/baseline-server.ts), unless `corked` is false. */
export async function startBaseline (corked = true): Promise<Server> {
  const port = await freePort()
  return startProcess(corked ? 'bare ws' : 'bare ws (uncorked)', process.execPath,
    [...GC_ON_SIGNAL, '--import', 'tsx', join(root, 'bench/baseline-server.ts')], { BASELINE_CORK: corked ? '1' : '0' }, port)
}

/** The Socket.IO peer (bench/socketio-server.ts): in memory, WebSocket transport only. */
export async function startSocketIo (): Promise<Server> {
  const port = await freePort()
  return startProcess('Socket.IO', process.execPath,
    [...GC_ON_SIGNAL, '--import', 'tsx', join(root, 'bench/socketio-server.ts')], {}, port, 'socketio')
}

export interface OursOptions {
  name: string
  databaseUrl?: string | undefined
  dataDir?: string | undefined
  redisUrl?: string | undefined
  redisPrefix?: string | undefined
  /** Run from the TypeScript sources through tsx instead of the build. */
  tsx: boolean
  /** Another checkout of the server (built with `build(log, checkout)`) instead of this one. */
  checkout?: string | undefined
  nodeArgs?: string[]
  /** A port to listen on (a restart on the port its clients know), else a free one. */
  port?: number
}

/**
 * The abuse limits, raised out of the way: the bench measures capacity, with a few users sending thousands of
 * messages a second and holding thousands of sockets (the checks still run on every request and frame).
 * A server without these settings ignores them.
 */
const UNLIMITED = {
  RATE_LIMIT_AUTH_PER_IP: '1000000',
  RATE_LIMIT_LOGIN_PER_USERNAME: '1000000',
  RATE_LIMIT_REST_PER_TOKEN: '1000000',
  MESSAGE_RATE_PER_SECOND: '1000000',
  MESSAGE_BURST: '1000000',
  MAX_SOCKETS_PER_USER: '1000000'
}

/** Our server: the build (closest to production) or the sources through tsx, on PostgreSQL or the embedded database. */
export async function startOurs (options: OursOptions): Promise<Server> {
  const port = options.port ?? await freePort()
  const env: Record<string, string> = { LOG_LEVEL: 'warn', NODE_ENV: 'production', ...UNLIMITED }
  if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl
  if (options.dataDir !== undefined) env.DATA_DIR = options.dataDir
  if (options.redisUrl !== undefined) env.REDIS_URL = options.redisUrl
  if (options.redisPrefix !== undefined) env.REDIS_PREFIX = options.redisPrefix
  const nodeArgs = [...GC_ON_SIGNAL, ...options.nodeArgs ?? []]
  const checkout = options.checkout ?? root
  const args = options.tsx
    ? [...nodeArgs, '--import', 'tsx', join(checkout, 'src/server.ts')]
    : [...nodeArgs, join(buildDirOf(checkout), 'src/server.js')]
  if (options.tsx) env.FASTIFY_AUTOLOAD_TYPESCRIPT = '1'
  // Without these, a REDIS_URL from the caller's environment would turn every single-instance run into a Redis one.
  const clear = { DATABASE_URL: '', REDIS_URL: '', DATA_DIR: '' }
  return { ...await startProcess(options.name, process.execPath, args, { ...clear, ...env }, port), databaseUrl: options.databaseUrl }
}

const newestSource = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
  const path = join(dir, entry.name)
  if (entry.isDirectory()) return Math.max(newest, newestSource(path))
  return entry.name.endsWith('.ts') ? Math.max(newest, statSync(path).mtimeMs) : newest
}, 0)

/**
 * Compiles the server of `checkout` (this one by default) into its .cache/bench-build unless it is newer than
 * every source. Type errors (another change in progress) are reported but do not stop the run: tsc still emits.
 */
export function build (log: (line: string) => void, checkout = root): void {
  const dir = buildDirOf(checkout)
  const stamp = join(dir, 'src/server.js')
  const sources = Math.max(...['src', 'plugins', 'routes'].map((sub) => newestSource(join(checkout, sub))))
  if (existsSync(stamp) && statSync(stamp).mtimeMs > sources) return
  log(`building the server into ${checkout === root ? '.cache/bench-build' : dir} ...`)
  mkdirSync(dir, { recursive: true })
  const result = spawnSync(process.execPath, [join(checkout, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json',
    '--outDir', dir, '--incremental', '--tsBuildInfoFile', join(dir, '.tsbuildinfo')],
  { cwd: checkout, encoding: 'utf8', timeout: 300_000 })
  if (!existsSync(stamp)) throw new Error(`build failed:\n${result.stdout}${result.stderr}`)
  if (result.status !== 0) log(`build: tsc reported errors, running what it emitted:\n${result.stdout.slice(0, 2000)}`)
}

/** A fresh PostgreSQL database for one run; `drop` removes it (and any connection left to it). */
export async function createDatabase (adminUrl: string) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  const name = `chat_bench_${process.pid}_${Date.now().toString(36)}`
  await admin.unsafe(`create database "${name}"`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop () {
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await admin.end({ timeout: 5 })
      }
    }
  }
}
