import type { Bar } from '@mdp/contracts';
import { CopyBuffer, decodeTuple, tupleEncoderFor } from '../../src/sinks/copy-binary';
import type { StoreItem } from '../../src/sinks/store-sink';
import { Row, SinkKind, TABLES } from '../../src/sinks/tables';

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

/**
 * Store items holding their rows as COPY binary tuples in one chunk, as the store's stream ingest
 * holds what it reads from a Redis bus.
 */
export function tupleItems(kind: SinkKind, rows: Row[]): StoreItem[] {
  const spec = TABLES[kind];
  const encode = tupleEncoderFor(spec)!;
  const chunk = new CopyBuffer(64);
  return rows.map((row) => {
    const tupleStart = chunk.at;
    if (!encode(row, chunk)) throw new Error(`not binary-encodable: ${JSON.stringify(row)}`);
    return {
      kind,
      tuples: chunk,
      tupleStart,
      tupleEnd: chunk.at,
      get row() {
        return decodeTuple(spec, chunk.buf, tupleStart);
      },
    };
  });
}
