import { BackpressureLevel } from '@mdp/contracts';
import { Clock, systemClock } from './clock';
import { TokenBucket } from './token-bucket';

export interface ProviderBudget {
  /** Records per second at scale 1. */
  rate: number;
  /** Largest burst. */
  burst: number;
}

export interface ProviderRateSnapshot {
  provider: string;
  rate: number;
  burst: number;
  /** Budget scale from feedback / operators (multiplies `rate`). */
  scale: number;
  /** Operator pause (control action); independent of `scale`, so feedback cannot resume a paused provider. */
  paused: boolean;
  /** Last recorded backpressure level. */
  pressure: BackpressureLevel;
  /** Records per second the provider may currently use. */
  effectiveRate: number;
}

interface ProviderState {
  bucket?: TokenBucket;
  budget?: ProviderBudget;
  scale: number;
  paused: boolean;
  pressure: BackpressureLevel;
  /** Resolved (and replaced) on every change, to wake waiters blocked on an old rate. */
  wake: () => void;
  changed: Promise<void>;
}

export type RateChangeListener = (snapshot: ProviderRateSnapshot) => void;

/**
 * One token bucket per provider. `acquire` is what paces a provider: the router asks for a token
 * before pulling the next record, so at scale 0 (or while paused) the provider's iterator is simply
 * not advanced and nothing is lost or skipped. Settings for a provider that is not registered yet are
 * kept and applied when it registers (feedback may arrive before providers start).
 */
export class RateCoordinator {
  private readonly states = new Map<string, ProviderState>();
  private readonly listeners = new Set<RateChangeListener>();

  constructor(private readonly clock: Clock = systemClock) {}

  registerProvider(provider: string, budget: ProviderBudget): void {
    const st = this.state(provider);
    st.budget = { ...budget };
    st.bucket = new TokenBucket(budget, this.clock.now());
    st.bucket.setScale(this.factor(st), this.clock.now());
    this.changed(provider, st);
  }

  isRegistered(provider: string): boolean {
    return this.states.get(provider)?.bucket !== undefined;
  }

  providers(): string[] {
    return [...this.states.keys()];
  }

  /** Scales the provider's refill rate; 0 pauses it without losing its place, 1 restores the configured rate. */
  setBudgetScale(provider: string, scale: number): void {
    if (!(scale >= 0) || !Number.isFinite(scale))
      throw new RangeError(`scale must be a finite number >= 0, got ${scale}`);
    const st = this.state(provider);
    st.scale = scale;
    this.apply(provider, st);
  }

  /** Records the backpressure level reported for the provider (enum value or any-case string). */
  setGlobalPressure(provider: string, level: BackpressureLevel | string): void {
    const parsed = BackpressureLevel.safeParse(String(level).trim().toLowerCase());
    if (!parsed.success)
      throw new RangeError(`unknown backpressure level "${level}" (expected ok | soft | hard)`);
    const st = this.state(provider);
    st.pressure = parsed.data;
    this.changed(provider, st);
  }

  pause(provider: string): void {
    const st = this.state(provider);
    st.paused = true;
    this.apply(provider, st);
  }

  resume(provider: string): void {
    const st = this.state(provider);
    st.paused = false;
    this.apply(provider, st);
  }

  snapshot(provider: string): ProviderRateSnapshot {
    const st = this.state(provider);
    const rate = st.budget?.rate ?? 0;
    return {
      provider,
      rate,
      burst: st.budget?.burst ?? 0,
      scale: st.scale,
      paused: st.paused,
      pressure: st.pressure,
      effectiveRate: rate * this.factor(st),
    };
  }

  snapshots(): ProviderRateSnapshot[] {
    return this.providers().map((p) => this.snapshot(p));
  }

  onChange(listener: RateChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes one token without waiting; false when the budget is exhausted (or the provider is unknown). */
  tryAcquire(provider: string, n = 1): boolean {
    const bucket = this.states.get(provider)?.bucket;
    return bucket ? bucket.tryTake(this.clock.now(), n) : false;
  }

  /**
   * Waits for `n` tokens. Resolves true once taken, false if `signal` aborts first. A rate change wakes
   * the waiter so it recomputes its wait (0 -> 1 resumes at once, not after an "infinite" sleep).
   */
  async acquire(provider: string, n = 1, signal?: AbortSignal): Promise<boolean> {
    const st = this.states.get(provider);
    if (!st?.bucket)
      throw new Error(`provider "${provider}" is not registered with the rate coordinator`);
    while (!signal?.aborted) {
      const bucket = st.bucket;
      const now = this.clock.now();
      if (bucket.tryTake(now, n)) return true;
      const waitMs = bucket.waitMs(now, n);
      const local = new AbortController();
      const onAbort = () => local.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const waits: Promise<void>[] = [
        st.changed,
        new Promise<void>((r) => local.signal.addEventListener('abort', () => r(), { once: true })),
      ];
      if (Number.isFinite(waitMs)) waits.push(this.clock.sleep(waitMs, local.signal));
      try {
        await Promise.race(waits);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        local.abort();
      }
    }
    return false;
  }

  private factor(st: ProviderState): number {
    return st.paused ? 0 : st.scale;
  }

  private apply(provider: string, st: ProviderState): void {
    st.bucket?.setScale(this.factor(st), this.clock.now());
    this.changed(provider, st);
  }

  private changed(provider: string, st: ProviderState): void {
    const wake = st.wake;
    st.changed = new Promise<void>((resolve) => (st.wake = resolve));
    wake();
    const snap = this.snapshot(provider);
    for (const l of this.listeners) l(snap);
  }

  private state(provider: string): ProviderState {
    let st = this.states.get(provider);
    if (!st) {
      let wake!: () => void;
      const changed = new Promise<void>((resolve) => (wake = resolve));
      st = { scale: 1, paused: false, pressure: 'ok', wake, changed };
      this.states.set(provider, st);
    }
    return st;
  }
}
