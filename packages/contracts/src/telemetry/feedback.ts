import { z } from 'zod';
import { BackpressureLevel, EpochSeconds, NonEmptyString, UnitInterval } from '../primitives';

/** Python core v1 `telemetry.FeedbackEvent`: same snake_case names, required set and bounds. */
export const FeedbackEventV1 = z.object({
  coordinator_id: NonEmptyString,
  queue_size: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(0, { error: 'must be >= 0' }),
  capacity: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .gt(0, { error: 'must be > 0' }),
  level: BackpressureLevel,
  source: z.string({ error: 'must be a string' }).default('store'),
  ts: EpochSeconds,
});

/** v2 adds optional context; a v1 reader ignores it, a v2 reader accepts v1 events without it. */
export const FeedbackEventV2 = FeedbackEventV1.extend({
  /** queue_size / capacity, which the Python store only sent as a header. */
  utilization: UnitInterval.optional(),
  /** Why the event was sent: `queue_recovered` (level back to ok), `refresh` (level unchanged, re-published). */
  reason: z.string({ error: 'must be a string' }).optional(),
  /** Per publishing instance, +1 for every event (refreshes included): orders events of one instance. */
  seq: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(0, { error: 'must be >= 0' })
    .optional(),
  /** When the publishing instance started; a restarted store's events supersede the old instance's. */
  started_at: EpochSeconds.optional(),
  /** Items per second recently leaving the queue (written or dead-lettered; the store measures the last 0.5 s). */
  drain_rate: z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).optional(),
  /** Seconds the level may be relied on without a newer event; older means unknown, not "still so". */
  ttl_s: z.number({ error: 'must be a number' }).gt(0, { error: 'must be > 0' }).optional(),
});

export type FeedbackEventV1 = z.infer<typeof FeedbackEventV1>;
export type FeedbackEventV2 = z.infer<typeof FeedbackEventV2>;
/** What producers build; the widest form, serialisable on either track. */
export type FeedbackEvent = FeedbackEventV2;
