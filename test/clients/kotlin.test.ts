import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { rootDir } from '../../src/paths.js'
import { api, createRoom, join as joinRoom, register, uniqueName, type ApiResponse } from '../helpers/client.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { installed } from '../helpers/tools.js'

// The Kotlin OkHttp example of the Django service this one replaces (examples/kotlin/), compiled with Debian's kotlinc against Debian's
// OkHttp 3 and run against the live server: what it prints is what a Kotlin client sees.

const root = rootDir
const okhttpJar = process.env.OKHTTP_JAR ?? '/usr/share/java/okhttp.jar'
const okioJar = process.env.OKIO_JAR ?? '/usr/share/java/okio.jar'
// The texts the example sends (examples/kotlin/src/*.kt).
const SECOND_TEXT = 'Hello again, after the reconnect!'
const SYNC_TEXT = 'Hello with last_rev!'
const EDITED_TEXT = 'Hello, world! (edited)'
const OFFLINE_TEXT = 'Sent over REST while the socket was down'
const RESUMED_TEXT = 'Hello again, after the last_rev reconnect!'
const EMOJI = '\u{1F44D}' // 👍, four UTF-8 bytes: percent-encoded in the path, JSON-escaped nowhere

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

/** Called with each line the program prints, as it prints it; what it returns is written to its standard input. */
type OnLine = (line: string) => Promise<string | undefined>

/**
 * Runs a script of the example with a bounded time; never rejects, so a failure can show what was printed.
 * `onLine` lets the test act while the program waits (it waits on standard input, so no sleep is involved).
 */
function runScript (script: string, args: string[], timeoutMs: number, onLine?: OnLine): Promise<Run> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(join(root, script), args, { cwd: root, stdio: [onLine === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let pending = ''
    const timer = setTimeout(() => { stderr += `killed after ${timeoutMs} ms\n`; child.kill('SIGKILL') }, timeoutMs)
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        onLine?.(line).then((answer) => { if (answer !== undefined) child.stdin?.write(answer) },
          (error: Error) => { stderr += `the test's reaction to "${line}" failed: ${error.stack}\n`; child.kill('SIGKILL') })
      }
    })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.stdin?.on('error', () => {}) // the program may exit before reading
    child.on('error', (error) => { stderr += `${error.message}\n` })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}

const show = (run: Run) => `exit ${run.code ?? run.signal} after ${run.ms} ms\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`

/** The stored messages among the "Received message: <frame>" lines the snippet's listener prints (and their updates). */
const received = (lines: string[], updates = false) => lines
  .filter((line) => line.startsWith('Received message: '))
  .map((line) => JSON.parse(line.slice('Received message: '.length)))
  .filter((frame) => frame.type === 'message' || (updates && frame.type === 'message_updated'))

/** The body of a REST call that must answer `status`. */
async function expectStatus (call: Promise<ApiResponse>, status: number) {
  const response = await call
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

/** Runs the example against `server` as `username`; prints its output when the calling test fails. */
async function runExample (t: Test, server: TestServer, username: string, password: string, room: string,
  onLine?: OnLine) {
  const run = await runScript('examples/kotlin/run.sh', ['--host', '127.0.0.1', '--port', new URL(server.url).port,
    '--username', username, '--password', password, '--room', room, '--timeout', '15',
    ...(onLine === undefined ? [] : ['--offline-pause', 'yes'])], 90_000, onLine)
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

  t.test('the snippet\'s example logs in, chats, and after a drop resumes with last_seq without a repeat; then, with 0.2, ' +
    'keeps messages by id, follows an edit and resumes with last_rev', async (t) => {
    const username = uniqueName('kotlin')
    const { token, user } = await register(server.url, username, password)
    const room = await createRoom(server.url, token)
    const messagesPath = `/api/chat/groups/${room.name}/messages/`
    // Bob changes the room while the example's socket is down (it waits on standard input meanwhile).
    const bob = await register(server.url)
    await joinRoom(server.url, bob.token, room.name)
    const offline: { helloId?: number, bobMessage?: number } = {}
    const onLine = async (line: string) => {
      if (line !== 'Waiting for a line on standard input before reconnecting') return undefined
      const history = await api(server.url, 'GET', messagesPath, { token: bob.token })
      offline.helloId = history.body.results.find((m: { seq: number }) => m.seq === 1).id
      await expectStatus(api(server.url, 'PUT', `${messagesPath}${offline.helloId}/reactions/${encodeURIComponent(EMOJI)}/`,
        { token: bob.token }), 200)
      const sent = await expectStatus(api(server.url, 'POST', messagesPath,
        { token: bob.token, body: { message: `While you were away, @${username}`, reply_to: offline.helloId } }), 201)
      offline.bobMessage = sent.id
      await expectStatus(api(server.url, 'PATCH', `${messagesPath}${sent.id}/`,
        { token: bob.token, body: { message: `While you were away, @${username}!` } }), 200)
      return '\n'
    }

    const run = await runExample(t, server, username, password, room.name, onLine)
    t.equal(run.code, 0, 'the program exits 0 on its own (OkHttp shut down)')
    const lines = run.stdout.split('\n')
    t.ok(lines.includes(`Logged in as ${username}`), 'logs in over REST')
    const groups = lines.find((line) => line.startsWith('Joined groups: '))
    t.same(groups?.slice('Joined groups: '.length).split(', '), [room.name], 'lists the joined groups with the token header')

    // The 0.1 part: the snippet's socket, a drop, a resume with last_seq.
    const marker = lines.findIndex((line) => line.startsWith('Reconnecting with last_seq='))
    t.equal(lines[marker], 'Reconnecting with last_seq=1 (attempt 1)', 'reconnects once, with the last seq it saw')
    const revMarkers = lines.flatMap((line, i) => line.startsWith('Reconnecting with last_rev=') ? [i] : [])
    t.same(revMarkers.map((i) => lines[i]), ['Reconnecting with last_rev=2 (attempt 1)', 'Reconnecting with last_rev=4 (attempt 1)'],
      'then two sockets with last_rev: after the 0.1 part (rev 2 = seq 2), and after the edit (rev 4)')
    const before = lines.slice(0, marker)
    const after = lines.slice(marker + 1, revMarkers[0])

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

    // The 0.2 part, first socket: its own message, then the edit of the snippet's message as message_updated.
    const live = lines.slice(revMarkers[0]! + 1, revMarkers[1])
    const helloId: number = hello.id
    t.same(received(live, true).map((frame) => [frame.type, frame.id === helloId ? 'hello' : frame.message, frame.rev]), [
      ['message', SYNC_TEXT, 3],
      ['message_updated', 'hello', 4]
    ], 'with last_rev=2 nothing is replayed; then its own message (rev 3) and the edit (rev 4) arrive live')
    t.match(received(live, true)[1], { id: helloId, seq: 1, message: EDITED_TEXT, edited_at: String, deleted: false },
      'the edit arrives as the full message, edited_at set')
    t.ok(live.includes(`Upserted message ${helloId}: rev 4, "${EDITED_TEXT}"`), 'and replaces the message of that id in the map')
    t.ok(live.includes(`Offline with last_rev=4: sent "${OFFLINE_TEXT}" over REST`), 'a send over REST while the socket is down')

    // The 0.2 part, the resume: exactly what it missed, in rev order and current state, then live.
    t.equal(offline.helloId, helloId, 'Bob changed the room while the example was offline')
    const replay = received(lines.slice(revMarkers[1]! + 1), true)
    t.same(replay.map((frame) => [frame.type, frame.seq, frame.rev]), [
      ['message', 4, 5], // its own REST send
      ['message_updated', 1, 6], // Bob's reaction to the snippet's message
      ['message', 5, 8], // Bob's reply, sent (rev 7) and edited (rev 8): once, as it is now
      ['message', 6, 9] // the live echo of the message it sent on open
    ], 'with last_rev=4: every change after rev 4 once, older messages as message_updated, then live frames')
    t.match(replay[1], { id: helloId, message: EDITED_TEXT, reactions: [{ emoji: EMOJI, count: 1, user_ids: [bob.user.id] }] },
      'the reaction, emoji intact')
    t.match(replay[2], {
      id: offline.bobMessage,
      message: `While you were away, @${username}!`,
      edited_at: String,
      reply_to: { id: helloId, seq: 1, excerpt: EDITED_TEXT },
      mentions: [user.id]
    }, 'Bob\'s reply in its current state: edited, answering the snippet\'s message, mentioning the example\'s user')
    t.match(replay[3], { message: RESUMED_TEXT, sender: { username } })
    t.ok(lines.includes('Badge while offline: 1 unread, 1 mentioning you'),
      'the home-screen badge: Bob\'s reply is unread and mentions the example\'s user; its own REST send is read')
    t.ok(lines.includes('Badge after catching up: 0 unread, 0 mentioning you'), 'its send on resume read everything')
    t.ok(lines.includes('In sync at rev 9: 6 messages, every change once, in rev order'),
      'the program finds the changes feed empty after its rev, and no rev twice or out of order')

    // What the example holds is what the server holds: the map, upserted from frames, is the current history.
    const stored = lines.filter((line) => line.startsWith('Stored message: '))
      .map((line) => JSON.parse(line.slice('Stored message: '.length)))
      .map(({ type, ...message }) => message)
    const history = await api(server.url, 'GET', messagesPath, { token })
    t.same(stored, [...history.body.results].reverse(), 'its map of messages equals the server\'s history, field for field')
    t.same(history.body.results.map((message: { seq: number }) => message.seq), [6, 5, 4, 3, 2, 1],
      'the server stored each message once')
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
