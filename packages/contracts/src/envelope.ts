import { z } from 'zod';
import { EpochSeconds, NonEmptyString, SchemaTrack, StringMap } from './primitives';

export const EventMeta = z.object({
  /** e.g. `telemetry.FeedbackEvent`; see SCHEMA_IDS. */
  schema_id: NonEmptyString,
  /**
   * Parsed as any string so an unknown track surfaces as the registry's typed `unknown_track`.
   * Absent means `v1`, the core's default.
   */
  track: NonEmptyString.default('v1'),
  headers: StringMap.default({}),
  /** The core's optional SHA-256 of the payload JSON; informative only (the core does not enforce it). */
  hash: z.string({ error: 'must be a string or null' }).nullable().optional(),
});
export interface EventMeta {
  schema_id: string;
  track: SchemaTrack;
  headers: Record<string, string>;
  hash?: string | null;
}

/**
 * Every event on the bus. `id` is producer-assigned and unique; consumers use it for idempotency.
 * `payload` is validated separately against `(meta.schema_id, meta.track)` through the registry.
 */
export const EventEnvelope = z.object({
  id: NonEmptyString,
  /** Partition / routing key; `null` (the core's default) when there is none. */
  key: z.string({ error: 'must be a string or null' }).nullable().default(null),
  ts: EpochSeconds,
  meta: EventMeta,
  payload: z.unknown(),
});

export interface EventEnvelopeOf<T> {
  id: string;
  key: string | null;
  ts: number;
  meta: EventMeta;
  payload: T;
}
export type EventEnvelope<T = unknown> = EventEnvelopeOf<T>;
