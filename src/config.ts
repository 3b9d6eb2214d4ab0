import { existsSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/**
 * Every setting the server reads from the environment. The README's configuration table mirrors this schema;
 * `.env.example` lists the same names.
 */
export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' }
  ),
  /** PostgreSQL URL; unset means the embedded database under DATA_DIR. */
  DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
  DATA_DIR: Type.String({ default: './data' }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, default: 10 }),
  /** Redis URL; unset means the in-process broker (one instance). */
  REDIS_URL: Type.Optional(Type.String({ minLength: 1 })),
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  REDIS_PREFIX: Type.String({ default: 'chat:' }),
  /** With Redis: how often each instance compares its rooms' delivered seq with the database (lost events). */
  GAP_CHECK_INTERVAL_MS: Type.Integer({ minimum: 100, default: 5000 }),
  /** With Redis: how often an instance says it is alive; one silent for three of these is taken for dead. */
  INSTANCE_HEARTBEAT_MS: Type.Integer({ minimum: 100, default: 10000 }),
  /**
   * How long a socket upgrade's token, room and membership are kept for the next upgrades (a reconnect storm);
   * logout, removal and room deletion drop them (on the other instances, through the broker). 0: read for every upgrade.
   */
  ACCESS_CACHE_TTL_MS: Type.Integer({ minimum: 0, default: 10000 }),
  /** At most this many of them (least recently used out first). */
  ACCESS_CACHE_MAX_ENTRIES: Type.Integer({ minimum: 1, default: 10000 }),
  /** Signs pagination cursors; unset means a random secret generated once and kept in the database. */
  SECRET_KEY: Type.Optional(Type.String({ minLength: 16 })),
  TRUST_PROXY: Type.Boolean({ default: false }),
  /** The origin clients reach the server at (`https://chat.example.com`): absolute links in pages are built from it. */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#@\\s]+/?$' })),
  /**
   * Without PUBLIC_URL, the Host names (comma-separated; `name` for any port, `name:port` for one) that links may
   * copy; another Host gets links to the address the request came to.
   */
  ALLOWED_HOSTS: Type.String({ default: 'localhost,127.0.0.1,[::1]' }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 65536 }),
  /** A request (headers and body) must arrive within this; a slower client gets 408 and its connection is closed. */
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 10, default: 25000 }),
  // At least a few of the largest frames (a message of 4,000 four-byte characters is ~16 KiB).
  SOCKET_BUFFER_LIMIT: Type.Integer({ minimum: 65536, default: 1048576 }),
  TYPING_INTERVAL_MS: Type.Integer({ minimum: 0, default: 2000 }),
  /** At most one `read` frame per user per room in this interval; the latest position always goes out. */
  READ_INTERVAL_MS: Type.Integer({ minimum: 10, default: 1000 }),
  BATCH_MAX_MESSAGES: Type.Integer({ minimum: 1, default: 256 }),
  /**
   * scrypt's cost N for new password hashes (a power of two; r = 8, p = 1): ~50 ms of a core per hash at 16384.
   * Each hash keeps its own, so a change applies to passwords set from then on.
   */
  PASSWORD_SCRYPT_N: Type.Union([1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072].map((n) => Type.Literal(n)), { default: 16384 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 }),
  // Rate limits (429 `throttled` with Retry-After; kept in Redis when REDIS_URL is set, so they hold across instances).
  /** Register and login requests per client IP per minute (credential stuffing, sign-up floods). */
  RATE_LIMIT_AUTH_PER_IP: Type.Integer({ minimum: 1, default: 300 }),
  /**
   * Failed logins per username per minute, from any IP (password guessing on one account). Past it, the addresses
   * that failed are refused and the others still heard, so the owner is not locked out; past ten times it, all are.
   */
  RATE_LIMIT_LOGIN_PER_USERNAME: Type.Integer({ minimum: 1, default: 30 }),
  /** Refused tokens per client IP per minute; past it, that address's token checks answer 429 before any lookup. */
  RATE_LIMIT_AUTH_FAILURES_PER_IP: Type.Integer({ minimum: 1, default: 300 }),
  /** Authenticated REST requests per token per minute (scrapers). */
  RATE_LIMIT_REST_PER_TOKEN: Type.Integer({ minimum: 1, default: 6000 }),
  /** Socket messages per user per room: a token bucket refilled at this rate per second... */
  MESSAGE_RATE_PER_SECOND: Type.Number({ minimum: 0.01, default: 100 }),
  /** ...holding at most this many (a burst). Over it a send gets a `throttled` error frame and is not stored. */
  MESSAGE_BURST: Type.Integer({ minimum: 1, default: 1000 }),
  /** Open sockets per user on one instance; the next handshake gets 429. */
  MAX_SOCKETS_PER_USER: Type.Integer({ minimum: 1, default: 100 }),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`; unset, it is public. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** Allowed CORS origins, comma-separated (`*` for any); unset: no cross-origin browser access. */
  CORS_ORIGINS: Type.Optional(Type.String())
})

export type Config = Static<typeof ConfigSchema>

/**
 * Loads `file` (`./.env` by default, as .env.example suggests) into process.env when it exists. Variables already
 * set win over the file's. Called once by each entry point (server, migrations, seed), never by tests.
 */
export function loadEnvFile (file = '.env'): boolean {
  if (!existsSync(file)) return false
  process.loadEnvFile(file)
  return true
}

/** What the app (src/app.ts) is given, and hands to every plugin and route: the configuration, read once. */
export interface AppOptions {
  config: Config
}

/** Reads the configuration from an environment, converting strings and applying defaults; throws on bad values. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const names = Object.keys(ConfigSchema.properties)
  const picked: Record<string, unknown> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined && value !== '') picked[name] = value
  }
  const config = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, picked))
  const errors = [...Value.Errors(ConfigSchema, config)]
  if (errors.length > 0) {
    const lines = errors.map((error) => `${error.path.slice(1)}: ${error.message}`)
    throw new Error(`Invalid configuration:\n  ${lines.join('\n  ')}`)
  }
  return config as Config
}
