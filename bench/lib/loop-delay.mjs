// Preloaded into every server the bench starts (beside gc-on-signal.mjs): the event loop's delay, at 1 ms resolution,
// over a window the load generator marks with SIGURG (ignored by default, unused by Node and by the servers). Each
// signal writes what was measured since the previous one (nothing the first time) to a file and starts over, so
// nothing runs in a server that is not asked. Values include the resolution: a loop blocked for b ms records about
// b + 1 ms. Beside it, the main thread's garbage-collection pauses over the same window (`gc` performance entries:
// the longest and their sum), which tell a loop blocked by GC from one blocked by our code. Main thread only: worker
// threads inherit the preloads and have no signals.
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

if (isMainThread) {
  let histogram
  let gc
  const count = (entries) => {
    for (const entry of entries) {
      gc.maxMs = Math.max(gc.maxMs, entry.duration)
      gc.totalMs += entry.duration
    }
  }
  // Observing from the first signal on, so gc is set whenever entries arrive.
  const gcObserver = new PerformanceObserver((list) => count(list.getEntries()))
  process.on('SIGURG', () => {
    const round = (value) => Math.round(value * 1e3) / 1e3
    const ms = (ns) => round(ns / 1e6)
    // Entries not yet delivered to the observer belong to the window that ends now.
    if (gc !== undefined) count(gcObserver.takeRecords())
    const reading = histogram === undefined
      ? {}
      : {
          maxMs: ms(histogram.max),
          p99Ms: ms(histogram.percentile(99)),
          meanMs: ms(histogram.mean),
          samples: histogram.count,
          gcMaxMs: round(gc.maxMs),
          gcTotalMs: round(gc.totalMs)
        }
    histogram?.disable()
    histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    if (gc === undefined) gcObserver.observe({ entryTypes: ['gc'] })
    gc = { maxMs: 0, totalMs: 0 }
    writeFileSync(join(tmpdir(), `chat-bench-loop-${process.pid}.json`), JSON.stringify(reading))
  })
}
