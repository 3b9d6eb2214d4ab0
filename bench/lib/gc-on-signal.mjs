// Preloaded (with --expose-gc) into every server the bench starts, ours and the baseline alike: on SIGWINCH, a full
// garbage collection, then the process's memory written to a file that the idle mode waits for. Memory per socket
// is read after it, so garbage that the next collection frees is not counted as held by the sockets. Plain
// JavaScript: the built server runs without tsx. SIGWINCH because nothing in a server uses it (close-with-grace
// takes SIGUSR2).
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMainThread } from 'node:worker_threads'

// Worker threads inherit the preloads, and have no signals.
if (isMainThread) {
  process.on('SIGWINCH', () => {
    // Plain gc(): on Node 20, gc({ type: 'major' }) left unreachable objects in place in a test.
    globalThis.gc()
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
    writeFileSync(join(tmpdir(), `chat-bench-gc-${process.pid}.json`), JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers }))
  })
}
