import { z } from 'zod';

/** Seconds since the Unix epoch, as the Python core's `time.time()`; never an ISO string. */
export const EpochSeconds = z
  .number({ error: 'must be a number of epoch seconds' })
  .finite()
  .nonnegative({ error: 'must be >= 0' });

export const BackpressureLevel = z.enum(['ok', 'soft', 'hard'], {
  error: 'must be one of ok | soft | hard',
});
export type BackpressureLevel = z.infer<typeof BackpressureLevel>;

export const SchemaTrack = z.enum(['v1', 'v2'], { error: 'must be v1 or v2' });
export type SchemaTrack = z.infer<typeof SchemaTrack>;
export const SCHEMA_TRACKS: readonly SchemaTrack[] = SchemaTrack.options;

export const HealthState = z.enum(['healthy', 'degraded', 'unhealthy'], {
  error: 'must be one of healthy | degraded | unhealthy',
});
export type HealthState = z.infer<typeof HealthState>;

/** String-to-string map (headers, health details): the Python core allows nothing else. */
export const StringMap = z.record(z.string(), z.string({ error: 'must be a string' }));
export type StringMap = z.infer<typeof StringMap>;

export const NonEmptyString = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' });

/** Integer >= 0 (counts, sizes, lag), with the same messages everywhere. */
export const NonNegativeInt = z
  .number({ error: 'must be an integer' })
  .int({ error: 'must be an integer' })
  .min(0, { error: 'must be >= 0' });

/** Finite number >= 0 (prices, volumes). */
export const NonNegativeNumber = z
  .number({ error: 'must be a number' })
  .min(0, { error: 'must be >= 0' });

/** A fraction in [0, 1] (scales, utilisation). */
export const UnitInterval = z
  .number({ error: 'must be a number' })
  .min(0, { error: 'must be >= 0' })
  .max(1, { error: 'must be <= 1' });

/** Python `str` fields: any string, empty allowed, so Python-produced events are never rejected here. */
export const AnyString = z.string({ error: 'must be a string' });
