import { z } from 'zod';
import { EpochSeconds, NonEmptyString, SchemaTrack, StringMap } from './primitives';

export const EventMeta = z.object({
  /** e.g. `telemetry.FeedbackEvent`; see SCHEMA_IDS. */
  schema_id: NonEmptyString,
  /** Parsed as any string so an unknown track surfaces as the registry's typed `unknown_track`. */
  track: NonEmptyString,
  headers: StringMap.default({}),
});
export interface EventMeta {
  schema_id: string;
  track: SchemaTrack;
  headers: Record<string, string>;
}

/**
 * Every event on the bus. `id` is producer-assigned and unique; consumers use it for idempotency.
 * `payload` is validated separately against `(meta.schema_id, meta.track)` through the registry.
 */
export const EventEnvelope = z.object({
  id: NonEmptyString,
  key: z.string({ error: 'must be a string' }),
  ts: EpochSeconds,
  meta: EventMeta,
  payload: z.unknown(),
});

export interface EventEnvelopeOf<T> {
  id: string;
  key: string;
  ts: number;
  meta: EventMeta;
  payload: T;
}
export type EventEnvelope<T = unknown> = EventEnvelopeOf<T>;
