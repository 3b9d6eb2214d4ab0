/**
 * Token buckets by key: each holds up to `burst` tokens and refills at `ratePerSecond`. A bucket that has refilled
 * completely is the same as no bucket, so `sweep` forgets those and the map holds only recent senders.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (private readonly ratePerSecond: number, private readonly burst: number) {}

  /** Takes a token for `key`; false when there is none left (the caller refuses the action). */
  take (key: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond)
    bucket.at = now
    this.buckets.set(key, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** Seconds until `key` has a token again. */
  retryAfter (key: string): number {
    const bucket = this.buckets.get(key)
    return bucket === undefined ? 0 : Math.max(0, Math.ceil((1 - bucket.tokens) / this.ratePerSecond))
  }

  sweep (now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key)
    }
  }
}
