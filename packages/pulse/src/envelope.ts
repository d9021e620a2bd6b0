import { randomUUID } from 'crypto';
import type { EventEnvelope, SchemaTrack } from '@mdp/contracts';

export interface CreateEnvelopeOptions {
  /** Partition / ordering key (e.g. a symbol). Default ''. */
  key?: string;
  /** Default `v1`. */
  track?: SchemaTrack;
  headers?: Record<string, string>;
  /** Default: a random UUID. */
  id?: string;
  /** Epoch seconds; default now. */
  ts?: number;
}

/** Builds an envelope with a fresh UUID id and `ts` in epoch seconds. */
export function createEnvelope<T>(
  schemaId: string,
  payload: T,
  opts: CreateEnvelopeOptions = {},
): EventEnvelope<T> {
  return {
    id: opts.id ?? randomUUID(),
    key: opts.key ?? '',
    ts: opts.ts ?? Date.now() / 1000,
    meta: { schema_id: schemaId, track: opts.track ?? 'v1', headers: { ...(opts.headers ?? {}) } },
    payload,
  };
}
