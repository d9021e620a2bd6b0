import type { EventEnvelope } from '@mdp/contracts';
import { createEnvelope } from '../src';

export interface Bar {
  provider: string;
  symbol: string;
  interval: string;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export function bar(i: number, symbol = 'AAPL'): Bar {
  const open = 100 + (i % 50);
  return {
    provider: 'ibkr',
    symbol,
    interval: '1m',
    ts: 1_700_000_000 + i * 60,
    open,
    high: open + 2,
    low: open - 1,
    close: open + 1,
    volume: 1000 + i,
  };
}

export function barEnvelope(
  i: number,
  symbol = 'AAPL',
  opts: { track?: 'v1' | 'v2'; id?: string } = {},
): EventEnvelope<Bar> {
  return createEnvelope('md.Bar', bar(i, symbol), { key: symbol, ...opts });
}

/** Polls `cond` until it holds (or fails after `timeoutMs` with `what`). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const nextTicks = (n = 5) => new Promise<void>((r) => setTimeout(r, n));
