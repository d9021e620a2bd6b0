import type { Bar } from '@mdp/contracts';
import { intervalSeconds } from './interval';
import type { BarRecord, Provider, RecordKind } from './provider';
import { SeriesNoise } from './series-noise';

export interface SyntheticProviderOptions {
  name?: string;
  symbols: string[];
  seed: number;
  interval?: string;
  /** Epoch seconds of the first bar; default: now, aligned down to the interval. */
  startTs?: number;
  /** Price level the series wander around. */
  startPrice?: number;
  /** Per-bar log-return standard deviation (about). */
  volatility?: number;
  /** Stop after this many bars (default: endless). */
  maxBars?: number;
}

/** Noise levels: the slowest moves over 2^15 bars (~3 weeks of 1m bars). */
const LEVELS = 16;

/**
 * Random-walk-like OHLCV bars, round-robin over the symbols, one bar per symbol per interval. Every
 * bar is a function of (seed, symbol, interval, ts) alone, not of where the stream started: a
 * pipeline restarted at another time sends identical bars for the keys it already published, so the
 * store's diff-aware upsert changes nothing. The position lives in the instance, so a restarted
 * stream continues.
 *
 * The log price is multi-scale value noise (`SeriesNoise`): `LEVELS` layers of random knots, level k
 * every 2^k bars with amplitude ~sqrt(2^k), interpolated linearly. Its increments look like a random
 * walk's over any window up to 2^15 bars, yet any bar's price is computed directly from ts.
 */
export class SyntheticProvider implements Provider {
  readonly name: string;
  readonly kinds: readonly RecordKind[] = ['bar'];
  private readonly intervalSec: number;
  private readonly interval: string;
  private readonly volatility: number;
  private readonly maxBars: number;
  private readonly startTs: number;
  private readonly series: Map<string, SeriesNoise>;
  private emitted = 0;

  constructor(private readonly opts: SyntheticProviderOptions) {
    if (opts.symbols.length === 0)
      throw new RangeError('synthetic provider needs at least one symbol');
    this.name = opts.name ?? 'synthetic';
    this.interval = opts.interval ?? '1m';
    this.intervalSec = intervalSeconds(this.interval);
    this.volatility = opts.volatility ?? 0.002;
    this.maxBars = opts.maxBars ?? Infinity;
    const now = Math.floor(Date.now() / 1000);
    this.startTs = opts.startTs ?? now - (now % this.intervalSec);
    this.series = new Map(
      opts.symbols.map((s) => [s, new SeriesNoise(opts.seed, `${s}|${this.intervalSec}`, LEVELS)]),
    );
  }

  async *stream(signal: AbortSignal): AsyncIterable<BarRecord> {
    while (!signal.aborted && this.emitted < this.maxBars) {
      yield this.nextBar();
    }
  }

  /** The next bar of the series (exposed for tests and benchmarks). */
  nextBar(): BarRecord {
    const symbols = this.opts.symbols;
    const symbol = symbols[this.emitted % symbols.length];
    const step = Math.floor(this.emitted / symbols.length);
    this.emitted++;
    const ts = this.startTs + step * this.intervalSec;
    return { kind: 'bar', key: symbol, data: this.barAt(symbol, ts) };
  }

  /** The bar of `symbol` at `ts` (bar start, epoch seconds): the same whenever it is asked for. */
  barAt(symbol: string, ts: number): Bar {
    const noise =
      this.series.get(symbol) ??
      new SeriesNoise(this.opts.seed, `${symbol}|${this.intervalSec}`, LEVELS);
    const n = Math.floor(ts / this.intervalSec);
    const base = this.opts.startPrice ?? 100;
    // ~1/2 of the per-step deviation comes from each side of a knot pair: scaled to `volatility`.
    const scale = this.volatility / 2;
    const open = round(base * Math.exp(scale * noise.at(n - 1)));
    const close = round(base * Math.exp(scale * noise.at(n)));
    const wick = (salt: number) => noise.uniform(n, salt) * this.volatility * 0.5;
    return {
      provider: this.name,
      symbol,
      interval: this.interval,
      ts,
      open,
      high: round(Math.max(open, close) * (1 + wick(1))),
      low: round(Math.min(open, close) * (1 - wick(2))),
      close,
      volume: Math.round(1000 + noise.uniform(n, 3) * 9000),
    };
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
