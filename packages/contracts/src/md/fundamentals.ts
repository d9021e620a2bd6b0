import { z } from 'zod';
import { EpochSeconds, NonEmptyString, NonNegativeNumber } from '../primitives';

const amount = z.number({ error: 'must be a number' });

/**
 * Company fundamentals as of a date; the natural key is (provider, symbol, asof). Figures are in the
 * report's currency; absent when the provider does not report them. Income and EPS may be negative.
 */
export const FundamentalsV1 = z.object({
  provider: NonEmptyString,
  symbol: NonEmptyString,
  /** Balance-sheet date, epoch seconds (midnight UTC for a plain date). */
  asof: EpochSeconds,
  total_assets: NonNegativeNumber.optional(),
  total_liabilities: NonNegativeNumber.optional(),
  net_income: amount.optional(),
  eps: amount.optional(),
});

export const FundamentalsV2 = FundamentalsV1.extend({
  revenue: amount.optional(),
  shares_outstanding: NonNegativeNumber.optional(),
  /** ISO 4217 code of the figures, e.g. `USD`. */
  currency: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code like USD' })
    .optional(),
});

export type FundamentalsV1 = z.infer<typeof FundamentalsV1>;
export type FundamentalsV2 = z.infer<typeof FundamentalsV2>;
export type Fundamentals = FundamentalsV2;
