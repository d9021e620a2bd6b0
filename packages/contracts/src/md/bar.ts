import { z } from 'zod';
import { EpochSeconds, NonEmptyString, NonNegativeInt, NonNegativeNumber } from '../primitives';

const price = z
  .number({ error: 'must be a number' })
  .finite()
  .nonnegative({ error: 'must be >= 0' });

/** One OHLCV bar; the natural key is (provider, symbol, interval, ts). */
export const BarV1 = z
  .object({
    provider: NonEmptyString,
    symbol: NonEmptyString,
    interval: NonEmptyString,
    ts: EpochSeconds,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: z.number({ error: 'must be a number' }).finite().nonnegative({ error: 'must be >= 0' }),
  })
  .superRefine((b, ctx) => {
    if (b.high < Math.max(b.open, b.close))
      ctx.addIssue({ code: 'custom', path: ['high'], message: 'must be >= max(open, close)' });
    if (b.low > Math.min(b.open, b.close))
      ctx.addIssue({ code: 'custom', path: ['low'], message: 'must be <= min(open, close)' });
  });

export const BarV2 = BarV1.safeExtend({
  /** Number of trades in the bar, where the provider reports it. */
  trades: NonNegativeInt.optional(),
  /** Volume-weighted average price, where the provider reports it. */
  vwap: NonNegativeNumber.optional(),
});

export type BarV1 = z.infer<typeof BarV1>;
export type BarV2 = z.infer<typeof BarV2>;
export type Bar = BarV2;
