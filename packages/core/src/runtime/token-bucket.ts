import { DfError, type Clock } from '@dragonflow/base';

export interface TokenBucketOptions {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: how many may be taken at once after a quiet period. */
  readonly burst: number;
  /** Keys remembered at most (the least recently used are forgotten: they start full again). */
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per key (a source port), on an injected clock. `take(key)`
 * says whether one more punt from that port may be handled now.
 */
export class KeyedTokenBucket<K = number> {
  private readonly buckets = new Map<K, Bucket>();
  private readonly maxKeys: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: TokenBucketOptions,
  ) {
    if (!(options.rate > 0) || !(options.burst >= 1)) throw new DfError('TOKEN_BUCKET_INVALID', `a token bucket needs rate > 0 and burst >= 1 (got rate ${options.rate}, burst ${options.burst})`, { context: { rate: options.rate, burst: options.burst } });
    this.maxKeys = options.maxKeys ?? 4096;
  }

  take(key: K): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.options.burst, b.tokens + ((now - b.at) / 1000) * this.options.rate);
      b.at = now;
    } else {
      b = { tokens: this.options.burst, at: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as K);
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Tokens left for `key` now (for tests and diagnostics). */
  available(key: K): number {
    const b = this.buckets.get(key);
    if (!b) return this.options.burst;
    return Math.min(this.options.burst, b.tokens + ((this.clock.now() - b.at) / 1000) * this.options.rate);
  }

  get size(): number {
    return this.buckets.size;
  }
}
