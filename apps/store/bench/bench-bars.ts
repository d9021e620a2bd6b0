import type { Bar } from '@mdp/contracts';

/** Symbols the store benchmarks spread their bars over (200 series). */
export const BENCH_SYMBOLS = 200;

/** Bar `i` of a benchmark backlog: a new (symbol, ts) for every i, so every bar is its own row. */
export function benchBar(i: number): Bar {
  const close = 100 + (i % 97) / 10;
  return {
    provider: 'bench',
    symbol: `SYM${i % BENCH_SYMBOLS}`,
    interval: '1m',
    ts: 1_600_000_000 + Math.floor(i / BENCH_SYMBOLS) * 60,
    open: close - 0.5,
    high: close + 1,
    low: close - 1,
    close,
    volume: 1000 + (i % 5000),
  };
}
