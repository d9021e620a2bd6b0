import { z } from 'zod';
import { BackpressureLevel, EpochSeconds, NonEmptyString } from '../primitives';

/** Python core v1 `telemetry.RateAdjustment`: `scale` multiplies a provider's refill rate. */
export const RateAdjustmentV1 = z.object({
  provider: NonEmptyString,
  scale: z
    .number({ error: 'must be a number' })
    .min(0, { error: 'must be >= 0' })
    .max(1, { error: 'must be <= 1' }),
  reason: BackpressureLevel,
  ts: EpochSeconds,
});

export const RateAdjustmentV2 = RateAdjustmentV1.extend({
  /** Coordinator whose feedback caused the adjustment. */
  source_coordinator_id: z.string({ error: 'must be a string' }).optional(),
  /** Envelope id of the feedback event, for tracing. */
  correlation_id: z.string({ error: 'must be a string' }).optional(),
});

export type RateAdjustmentV1 = z.infer<typeof RateAdjustmentV1>;
export type RateAdjustmentV2 = z.infer<typeof RateAdjustmentV2>;
export type RateAdjustment = RateAdjustmentV2;

/** Python core protocol `RateController`: whatever can apply a rate adjustment. */
export interface RateController {
  apply(adjustment: RateAdjustment): Promise<void> | void;
}

/** Python core protocol `FeedbackPublisher`. */
export interface FeedbackPublisher<E = unknown> {
  publish(event: E): Promise<void> | void;
}
