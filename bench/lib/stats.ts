/** Latency samples in a growable Float64Array (no per-sample object), capped so a runaway run cannot eat memory. */
export class Samples {
  private data = new Float64Array(1 << 16)
  length = 0
  max = 0

  constructor (private readonly cap = 20_000_000) {}

  add (value: number): void {
    if (value > this.max) this.max = value
    if (this.length === this.data.length) {
      if (this.length >= this.cap) return
      const grown = new Float64Array(Math.min(this.cap, this.length * 2))
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = value
  }

  /** p50/p99/max (and the count) of what was added; all zero when nothing was. */
  summary (): Summary {
    const sorted = this.data.subarray(0, this.length).slice().sort()
    return { count: this.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: this.max }
  }
}

export interface Summary { count: number, p50: number, p99: number, max: number }

/** Nearest-rank percentile of sorted values. */
function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Times in ms as a result reports them: p50, p99, max to the microsecond, and how many. */
export function msStats (values: number[]) {
  const s = summarize(values)
  const round = (n: number) => Math.round(n * 1000) / 1000
  return { p50: round(s.p50), p99: round(s.p99), max: round(s.max), samples: s.count }
}

export function summarize (values: number[]): Summary {
  const samples = new Samples()
  for (const value of values) samples.add(value)
  return samples.summary()
}
