import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { rootDir } from '../../src/paths.js'
import { spawnInstance, type Instance } from '../helpers/cluster.js'
import { uniqueName } from '../helpers/client.js'

const CHROMIUM = '/usr/bin/chromium'

// The browser test of the web chat: two users in two browser contexts, against the real server (its own process,
// so it can be stopped with SIGTERM and started again on the same embedded database).
if (!existsSync(CHROMIUM)) {
  t.plan(0, `web chat browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`)
} else {
  await run()
}

async function run () {
  const { chromium } = await import('playwright-core')
  // The page under test is the one in web/ now: built as `npm run build` builds it.
  const built = spawnSync(process.execPath, [join(rootDir, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
    { cwd: rootDir, encoding: 'utf8', timeout: 120_000 })
  if (built.status !== 0) throw new Error(`vite build failed: ${built.stderr}`)

  // Two browsers, two server starts on the embedded database and a build: more than the suite's 120 s per file.
  t.setTimeout(400_000)
  t.test('two users chat in the browser, through a server restart and a reload', async (t) => {
    t.setTimeout(300_000)
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-web-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    let server: Instance = await spawnInstance(t, { DATA_DIR: dataDir })
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Playwright gives each launch a fresh, empty --user-data-dir of its own.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000
    })
    t.teardown(() => browser.close())
    const open = async (viewport: { width: number, height: number }) => {
      const context = await browser.newContext({ viewport })
      const page = await context.newPage()
      page.setDefaultTimeout(15_000)
      page.on('dialog', (dialog) => { void dialog.accept() })
      await page.goto(`${server.url}/`)
      return page
    }
    // A on a laptop's width, B on a phone's.
    const a = await open({ width: 1000, height: 680 })
    const b = await open({ width: 390, height: 760 })
    const names = { a: uniqueName('ana'), b: uniqueName('bo') }
    for (const [page, username] of [[a, names.a], [b, names.b]] as const) {
      await page.getByRole('button', { name: 'No account yet? Register' }).click()
      await page.getByLabel('Username').fill(username)
      await page.getByLabel('Password').fill('correct horse battery')
      await page.getByRole('button', { name: 'Register' }).click()
      await page.getByLabel('Signed in as').filter({ hasText: username }).waitFor()
    }
    t.pass('both registered and signed in')

    const room = uniqueName('web')
    await a.goto(`${server.url}/#/browse`)
    await a.getByLabel('New room').fill(room)
    await a.getByRole('button', { name: 'Create' }).click()
    await a.getByRole('heading', { name: room }).waitFor()
    await b.goto(`${server.url}/#/browse`)
    await b.getByLabel('Find a room').fill(room)
    await b.getByRole('button', { name: `Join ${room}` }).click()
    await b.getByRole('heading', { name: room }).waitFor()
    t.pass('A created the room, B found and joined it')

    const messages = (page: typeof a) => page.locator('li.message[data-id]')
    const message = (page: typeof a, text: string) => messages(page).filter({ hasText: text })
    // A check that waits (bounded) and then reports, so that one failing does not hide the checks after it.
    const shows = (locator: ReturnType<typeof a.locator>, state: 'visible' | 'detached' = 'visible') =>
      locator.waitFor({ state }).then(() => true, () => false)
    const say = async (page: typeof a, text: string) => {
      await page.getByLabel('Message', { exact: true }).fill(text)
      await page.getByLabel('Message', { exact: true }).press('Enter')
    }

    await say(a, 'hello from A')
    await message(b, 'hello from A').waitFor()
    await b.getByLabel('Message', { exact: true }).pressSequentially('hi A, it is', { delay: 20 })
    await a.locator('.typing').filter({ hasText: `${names.b} is typing` }).waitFor()
    t.pass('A sees B typing')
    await b.getByLabel('Message', { exact: true }).press('Enter')
    await message(a, 'hi A, it is').waitFor()
    t.pass('the two chat both ways')
    // Depends on the server's 0.2 read state: B's read position reaches A as a `read` frame.
    t.ok(await shows(message(a, 'hello from A').locator('.seen').filter({ hasText: `Seen by ${names.b}` })),
      'A sees that B has seen the message')

    await message(a, 'hello from A').getByRole('button', { name: 'Edit' }).click()
    await say(a, 'hello from A, edited')
    await message(b, 'hello from A, edited').filter({ hasText: '(edited)' }).waitFor()
    t.pass('B sees the edit')
    await message(b, 'hello from A, edited').getByRole('button', { name: 'React 👍' }).click()
    await message(a, 'hello from A, edited').getByRole('button', { name: '👍 1' }).waitFor()
    t.pass('A sees B\'s reaction')
    await say(a, 'a message to delete')
    await message(b, 'a message to delete').waitFor()
    await message(a, 'a message to delete').getByRole('button', { name: 'Delete' }).click()
    await b.locator('li.message.deleted').filter({ hasText: 'Message deleted' }).waitFor()
    t.equal(await message(b, 'a message to delete').count(), 0, 'B sees the deletion: the text is gone')

    // The room list's unread badge (0.2 unread_count): B leaves the room for the list, A writes, B comes back.
    await b.goto(`${server.url}/#/`)
    const entry = b.locator(`a[data-room="${room}"]`)
    await entry.waitFor()
    await say(a, 'while B was away')
    t.ok(await shows(entry.locator('.badge[data-unread="1"]')), 'B\'s room list shows 1 unread')
    await entry.click()
    await message(b, 'while B was away').waitFor()
    await b.goto(`${server.url}/#/`)
    await entry.waitFor()
    t.ok(await shows(entry.locator('.badge[data-unread]'), 'detached'), 'the badge clears once B has read the room')
    await entry.click()
    await b.getByRole('heading', { name: room }).waitFor()

    // SIGTERM and a restart on the same data dir while A keeps writing: nothing lost, nothing shown twice.
    const burst = Array.from({ length: 8 }, (_, k) => `burst ${k}`)
    for (const text of burst.slice(0, 3)) await say(a, text)
    const port = new URL(server.url).port
    server.child.kill('SIGTERM')
    const stopping = server
    t.equal(await stopping.exited, 0, 'the server shut down cleanly', { output: stopping.output().slice(-2000) })
    for (const text of burst.slice(3)) await say(a, text)
    server = await spawnInstance(t, { DATA_DIR: dataDir }, Number(port))
    for (const [who, page] of [['A', a], ['B', b]] as const) {
      try {
        await message(page, burst.at(-1)!).waitFor({ timeout: 60_000 })
        await page.locator('li.pending').waitFor({ state: 'detached', timeout: 30_000 })
      } catch (error) {
        // What a failure needs to be understood: what the page said of its connection, and what the server logged.
        const status = await page.locator('p.status').allInnerTexts()
        const shown = await messages(page).locator('.text').allInnerTexts()
        throw new Error(`${who} after the restart: status ${JSON.stringify(status)}, shown ${JSON.stringify(shown.slice(-10))}; ` +
          `server: ${server.output().slice(-3000)}`, { cause: error })
      }
    }
    for (const [who, page] of [['A', a], ['B', b]] as const) {
      const texts = await messages(page).locator('.text').allInnerTexts()
      t.same(texts.filter((text) => text.startsWith('burst ')), burst, `${who}: every burst message once, in order`)
      t.equal(new Set(await messages(page).evaluateAll((items) => items.map((item) => item.dataset.id))).size,
        await messages(page).count(), `${who}: no message shown twice`)
    }

    const before = await messages(b).locator('.text').allInnerTexts()
    await b.reload()
    await message(b, burst.at(-1)!).waitFor()
    t.same(await messages(b).locator('.text').allInnerTexts(), before, 'a reload shows the same history')

    await a.locator('.composer textarea').fill('@' + names.b + ' see you tomorrow')
    await a.locator('.messages').evaluate((element) => { element.scrollTop = 0 })
    // The README's picture is rewritten only when asked (UPDATE_SCREENSHOT=1): each run's PNG differs by a few bytes,
    // and a plain `npm test` must leave the work tree clean.
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? join(rootDir, 'docs', 'web-chat.png') : join(tmpdir(), `web-chat-${process.pid}.png`)
    await a.screenshot({ path: shot })
    t.ok(existsSync(shot), 'the screenshot is written')
    if (process.env.UPDATE_SCREENSHOT !== '1') rmSync(shot)
  })
}
