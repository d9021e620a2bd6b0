import type { Bar } from '@mdp/contracts';
import { intervalSeconds } from './interval';
import type { BarRecord, Provider, RecordKind } from './provider';
import { SeededRandom } from './seeded-random';

export interface SyntheticProviderOptions {
  name?: string;
  symbols: string[];
  seed: number;
  interval?: string;
  /** Epoch seconds of the first bar; default: now, aligned down to the interval. */
  startTs?: number;
  startPrice?: number;
  /** Per-bar log-return standard deviation. */
  volatility?: number;
  /** Stop after this many bars (default: endless). */
  maxBars?: number;
}

/**
 * Random-walk OHLCV bars, round-robin over the symbols, one bar per symbol per interval. Same seed
 * and start give the same bars. The walk lives in the instance, so a restarted stream continues.
 */
export class SyntheticProvider implements Provider {
  readonly name: string;
  readonly kinds: readonly RecordKind[] = ['bar'];
  private readonly rng: SeededRandom;
  private readonly intervalSec: number;
  private readonly interval: string;
  private readonly volatility: number;
  private readonly maxBars: number;
  private readonly prices: Map<string, number>;
  private readonly startTs: number;
  private emitted = 0;

  constructor(private readonly opts: SyntheticProviderOptions) {
    if (opts.symbols.length === 0)
      throw new RangeError('synthetic provider needs at least one symbol');
    this.name = opts.name ?? 'synthetic';
    this.interval = opts.interval ?? '1m';
    this.intervalSec = intervalSeconds(this.interval);
    this.rng = new SeededRandom(opts.seed);
    this.volatility = opts.volatility ?? 0.002;
    this.maxBars = opts.maxBars ?? Infinity;
    const now = Math.floor(Date.now() / 1000);
    this.startTs = opts.startTs ?? now - (now % this.intervalSec);
    this.prices = new Map(opts.symbols.map((s) => [s, opts.startPrice ?? 100]));
  }

  async *stream(signal: AbortSignal): AsyncIterable<BarRecord> {
    while (!signal.aborted && this.emitted < this.maxBars) {
      yield this.nextBar();
    }
  }

  /** The next bar of the walk (exposed for tests and benchmarks). */
  nextBar(): BarRecord {
    const symbols = this.opts.symbols;
    const symbol = symbols[this.emitted % symbols.length];
    const step = Math.floor(this.emitted / symbols.length);
    this.emitted++;
    const open = this.prices.get(symbol)!;
    const close = round(open * Math.exp(this.volatility * this.rng.normal()));
    const wick = () => Math.abs(this.rng.normal()) * this.volatility * 0.5;
    const high = round(Math.max(open, close) * (1 + wick()));
    const low = round(Math.min(open, close) * (1 - wick()));
    const volume = Math.round(1000 + this.rng.next() * 9000);
    this.prices.set(symbol, close);
    const bar: Bar = {
      provider: this.name,
      symbol,
      interval: this.interval,
      ts: this.startTs + step * this.intervalSec,
      open,
      high,
      low,
      close,
      volume,
    };
    return { kind: 'bar', key: symbol, data: bar };
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
