import type { Bar } from '@mdp/contracts';

export const BASE_TS = 1_700_000_000;

/** `n` valid 1m bars for `symbol`, one minute apart. */
export function makeBars(
  n: number,
  opts: { symbol?: string; provider?: string; from?: number; close?: number } = {},
): Bar[] {
  const from = opts.from ?? 0;
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const close = opts.close ?? 100 + (i % 17);
    return {
      provider: opts.provider ?? 'test',
      symbol: opts.symbol ?? 'aapl',
      interval: '1m',
      ts: BASE_TS + i * 60,
      open: close - 1,
      high: close + 2,
      low: close - 2,
      close,
      volume: 1000 + i,
    };
  });
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
