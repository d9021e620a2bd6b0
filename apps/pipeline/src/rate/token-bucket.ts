/**
 * Token bucket with a scalable refill rate. Refill is computed lazily from the clock, so the bucket
 * needs no timer; a scale change first settles the tokens earned at the old rate.
 */
export interface TokenBucketOptions {
  /** Tokens per second at scale 1. */
  rate: number;
  /** Maximum tokens held (and so the largest burst). */
  burst: number;
  /** Start full (default) or empty. */
  startFull?: boolean;
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private factor = 1;

  constructor(opts: TokenBucketOptions, now: number) {
    if (!(opts.rate > 0) || !Number.isFinite(opts.rate))
      throw new RangeError(`rate must be a positive number, got ${opts.rate}`);
    if (!(opts.burst >= 1) || !Number.isFinite(opts.burst))
      throw new RangeError(`burst must be >= 1, got ${opts.burst}`);
    this.rate = opts.rate;
    this.burst = opts.burst;
    this.tokens = opts.startFull === false ? 0 : opts.burst;
    this.last = now;
  }

  /** Effective multiplier on the refill rate (0 stops refilling). */
  get scale(): number {
    return this.factor;
  }

  get effectiveRate(): number {
    return this.rate * this.factor;
  }

  setScale(scale: number, now: number): void {
    if (!(scale >= 0) || !Number.isFinite(scale))
      throw new RangeError(`scale must be a finite number >= 0, got ${scale}`);
    this.refill(now);
    this.factor = scale;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  tryTake(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens + 1e-9 < n) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }

  /** Milliseconds until `n` tokens are available at the current rate; Infinity while the rate is 0. */
  waitMs(now: number, n = 1): number {
    this.refill(now);
    const missing = n - this.tokens;
    if (missing <= 1e-9) return 0;
    const rate = this.effectiveRate;
    return rate > 0 ? (missing / rate) * 1000 : Infinity;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed > 0)
      this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.effectiveRate);
    this.last = Math.max(this.last, now);
  }
}
