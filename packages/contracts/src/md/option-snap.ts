import { z } from 'zod';
import { EpochSeconds, NonEmptyString, NonNegativeInt, NonNegativeNumber } from '../primitives';

export const OptionType = z.enum(['C', 'P'], { error: 'must be C or P' });
export type OptionType = z.infer<typeof OptionType>;

/** Expiry is a calendar date, not an instant: ISO `YYYY-MM-DD`, so no time zone can shift it. */
export const ExpiryDate = z.iso.date({ error: 'must be a date YYYY-MM-DD' });

const greek = z.number({ error: 'must be a number' });

/**
 * One option quote snapshot. `symbol` is the underlying; the natural key is
 * (provider, symbol, expiry, option_type, strike, ts). Optional analytics are absent when unknown.
 */
export const OptionSnapV1 = z.object({
  provider: NonEmptyString,
  symbol: NonEmptyString,
  expiry: ExpiryDate,
  option_type: OptionType,
  strike: z.number({ error: 'must be a number' }).gt(0, { error: 'must be > 0' }),
  ts: EpochSeconds,
  /** Implied volatility as a fraction (0.25 = 25 %). */
  iv: NonNegativeNumber.optional(),
  delta: greek.min(-1, { error: 'must be >= -1' }).max(1, { error: 'must be <= 1' }).optional(),
  gamma: greek.optional(),
  /** Open interest, contracts. */
  oi: NonNegativeInt.optional(),
  volume: NonNegativeInt.optional(),
  /** Underlying price at `ts`. */
  spot: NonNegativeNumber.optional(),
});

export const OptionSnapV2 = OptionSnapV1.extend({
  bid: NonNegativeNumber.optional(),
  ask: NonNegativeNumber.optional(),
  last: NonNegativeNumber.optional(),
  theta: greek.optional(),
  vega: greek.optional(),
});

export type OptionSnapV1 = z.infer<typeof OptionSnapV1>;
export type OptionSnapV2 = z.infer<typeof OptionSnapV2>;
export type OptionSnap = OptionSnapV2;
