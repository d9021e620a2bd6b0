import { randomUUID } from 'crypto';
import type { EventEnvelope, RateAdjustment, SchemaTrack } from '@mdp/contracts';

/**
 * Builds an envelope for this process's publishing track. On v1 the payload keeps only the v1 field
 * set, so strict v1 readers see exactly what they know.
 */
export function envelopeFor<T extends object>(opts: {
  schemaId: string;
  track: SchemaTrack;
  key: string;
  payload: T;
  v1Fields: readonly (keyof T & string)[];
  headers?: Record<string, string>;
  nowMs?: number;
}): EventEnvelope<Partial<T>> {
  const payload = opts.track === 'v1' ? pick(opts.payload, opts.v1Fields) : opts.payload;
  return {
    id: randomUUID(),
    key: opts.key,
    ts: (opts.nowMs ?? Date.now()) / 1000,
    meta: { schema_id: opts.schemaId, track: opts.track, headers: opts.headers ?? {} },
    payload,
  };
}

function pick<T extends object>(obj: T, keys: readonly (keyof T & string)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

export const RATE_ADJUSTMENT_V1_FIELDS = ['provider', 'scale', 'reason', 'ts'] as const;

/** `<ns>.telemetry.rate_adjustment` envelope, keyed by provider. */
export function rateAdjustmentEnvelope(adjustment: RateAdjustment, track: SchemaTrack) {
  return envelopeFor({
    schemaId: 'telemetry.RateAdjustment',
    track,
    key: adjustment.provider,
    payload: adjustment,
    v1Fields: RATE_ADJUSTMENT_V1_FIELDS,
  });
}
