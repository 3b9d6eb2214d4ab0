import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { rootDir } from '../../src/paths.js'
import { api, createRoom, register, uniqueName } from '../helpers/client.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { installed } from '../helpers/tools.js'

// The Kotlin OkHttp example of the Django service this one replaces (examples/kotlin/), compiled with Debian's kotlinc against Debian's
// OkHttp 3 and run against the live server: what it prints is what a Kotlin client sees.

const root = rootDir
const okhttpJar = process.env.OKHTTP_JAR ?? '/usr/share/java/okhttp.jar'
const okioJar = process.env.OKIO_JAR ?? '/usr/share/java/okio.jar'
const SECOND_TEXT = 'Hello again, after the reconnect!'

// A cold kotlinc takes from ten seconds to a couple of minutes on a busy machine; later runs hit the jar cache.
t.setTimeout(10 * 60_000)

/** The Debian packages this test needs and the machine lacks. */
function missingPackages (): string[] {
  const missing: string[] = []
  if (!installed('kotlinc') || !installed('java')) missing.push('kotlin')
  if (!existsSync(okhttpJar) || !existsSync(okioJar)) missing.push('libokhttp-java')
  return missing
}

interface Run { code: number | null, signal: string | null, stdout: string, stderr: string, ms: number }

/** Runs a script of the example with a bounded time; never rejects, so a failure can show what was printed. */
function runScript (script: string, args: string[], timeoutMs: number): Promise<Run> {
  const started = Date.now()
  return new Promise((resolve) => {
    execFile(join(root, script), args, { cwd: root, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { code?: number | string, signal?: string }) | null
        resolve({
          code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          stderr: failure !== null && typeof failure.code === 'string' ? `${failure.message}\n${stderr}` : stderr,
          ms: Date.now() - started
        })
      })
  })
}

const show = (run: Run) => `exit ${run.code ?? run.signal} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`

/** The stored messages among the "Received message: <frame>" lines the snippet's listener prints. */
const received = (lines: string[]) => lines
  .filter((line) => line.startsWith('Received message: '))
  .map((line) => JSON.parse(line.slice('Received message: '.length)))
  .filter((frame) => frame.type === 'message')

/** Runs the example against `server` as `username`; prints its output when the calling test fails. */
async function runExample (t: Test, server: TestServer, username: string, password: string, room: string) {
  const run = await runScript('examples/kotlin/run.sh', ['--host', '127.0.0.1', '--port', new URL(server.url).port,
    '--username', username, '--password', password, '--room', room, '--timeout', '15'], 90_000)
  t.comment(`kotlin example run: ${(run.ms / 1000).toFixed(1)} s`)
  t.teardown(() => { if (!t.passing()) console.error(show(run)) })
  return run
}

const missing = missingPackages()
if (missing.length > 0) {
  t.fail(`the Kotlin example needs the Debian packages ${missing.join(' and ')}: apt-get install -y ${missing.join(' ')}` +
    ' (.ci/run installs them)')
} else {
  const build = await runScript('examples/kotlin/build.sh', [], 8 * 60_000)
  t.comment(`kotlin example build: ${(build.ms / 1000).toFixed(1)} s`)
  t.equal(build.code, 0, 'the example compiles', build.code === 0 ? {} : { output: show(build) })
  t.match(build.stdout.trim(), /\/\.cache\/kotlin\/[0-9a-f]{64}\.jar$/, 'the jar is cached under .cache/kotlin, keyed by hash')
  if (build.code === 0) await runAgainst(await startServer(t))
}

async function runAgainst (server: TestServer) {
  const password = 'correct horse battery'

  t.test('the snippet\'s example logs in, chats, and after a drop resumes with last_seq without a repeat', async (t) => {
    const username = uniqueName('kotlin')
    const { token } = await register(server.url, username, password)
    const room = await createRoom(server.url, token)

    const run = await runExample(t, server, username, password, room.name)
    t.equal(run.code, 0, 'the program exits 0 on its own (OkHttp shut down)')
    const lines = run.stdout.split('\n')
    t.ok(lines.includes(`Logged in as ${username}`), 'logs in over REST')
    const groups = lines.find((line) => line.startsWith('Joined groups: '))
    t.same(groups?.slice('Joined groups: '.length).split(', '), [room.name], 'lists the joined groups with the token header')

    const marker = lines.findIndex((line) => line.startsWith('Reconnecting with last_seq='))
    t.equal(lines[marker], 'Reconnecting with last_seq=1 (attempt 1)', 'reconnects once, with the last seq it saw')
    const before = lines.slice(0, marker)
    const after = lines.slice(marker + 1)

    t.ok(before.includes('Connected to WebSocket'), 'the first socket opens with the token in the URL')
    const [hello, ...more] = received(before)
    t.match(hello, {
      type: 'message',
      room: room.name,
      seq: 1,
      message: 'Hello, world!',
      message_type: 'text',
      sender: { username }
    }, 'the snippet\'s frame comes back stored, as seq 1')
    t.same(more, [], 'nothing else is stored before the drop')
    t.ok(before.some((line) => line.startsWith('WebSocket error: ')), 'the drop reaches the snippet\'s onFailure')
    t.ok(before.includes('Socket ended: the connection dropped without a close frame: reconnect with last_seq'),
      'a drop with no close code is one to reconnect from')

    t.ok(after.includes('Connected to WebSocket'), 'the second socket opens')
    const resumed = received(after)
    t.same(resumed.map((message) => message.seq), [2], 'after the reconnect: only the new message, seq 1 is not repeated')
    t.match(resumed[0], { seq: 2, message: SECOND_TEXT, sender: { username } }, 'the second message is stored as seq 2')
    t.ok(after.includes('Closing WebSocket: 1000 / done'), 'the server answers the client\'s normal close (onClosing)')
    t.ok(after.includes('Every message arrived once, in order'), 'the program saw no gap and no duplicate')

    const history = await api(server.url, 'GET', `/api/chat/groups/${room.name}/messages/`, { token })
    t.same(history.body.results.map((message: { seq: number, message: string }) => [message.seq, message.message]),
      [[2, SECOND_TEXT], [1, 'Hello, world!']], 'the server stored each message once')
  })

  t.test('a non-member\'s socket is refused with 403, reported in onFailure, and the program exits 1', async (t) => {
    const owner = await register(server.url)
    const room = await createRoom(server.url, owner.token)
    const outsider = uniqueName('kotlin')
    await register(server.url, outsider, password)

    const run = await runExample(t, server, outsider, password, room.name)
    t.equal(run.code, 1, 'the program fails')
    const lines = run.stdout.split('\n')
    t.ok(lines.includes(`Note: ${outsider} has not joined ${room.name}; the socket will be refused`),
      'the joined groups show it before the socket does')
    t.notOk(lines.includes('Connected to WebSocket'), 'the socket never opens')
    t.ok(lines.some((line) => line.startsWith('WebSocket error: ')), 'the refusal reaches the snippet\'s onFailure')
    t.match(run.stderr, /handshake refused with HTTP 403/, 'with the HTTP status of the refusal')
  })

  t.test('a wrong password fails the login with 401 and the program exits 1 before any socket', async (t) => {
    const username = uniqueName('kotlin')
    await register(server.url, username, password)
    const run = await runExample(t, server, username, 'not the password', 'any_room')
    t.equal(run.code, 1, 'the program fails')
    t.match(run.stderr, /login failed: HTTP 401 .*authentication_failed/, 'with the login\'s status and error code')
    t.equal(run.stdout, '', 'nothing else happens')
  })
}
