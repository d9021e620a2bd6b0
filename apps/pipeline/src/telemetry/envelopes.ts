import { randomUUID } from 'crypto';
import { decodePayload, type EventEnvelope, type SchemaId, type SchemaTrack } from '@mdp/contracts';

/**
 * Builds an envelope for this process's publishing track. On v1 the payload is what the contract's v1
 * schema makes of it (v2-only fields dropped at every depth), so strict v1 readers such as the Python
 * core see exactly what they know.
 */
export function envelopeFor<T extends object>(opts: {
  schemaId: SchemaId;
  track: SchemaTrack;
  key: string;
  payload: T;
  headers?: Record<string, string>;
  nowMs?: number;
}): EventEnvelope<unknown> {
  return {
    id: randomUUID(),
    key: opts.key,
    ts: (opts.nowMs ?? Date.now()) / 1000,
    meta: { schema_id: opts.schemaId, track: opts.track, headers: opts.headers ?? {} },
    payload: opts.track === 'v1' ? asV1(opts.schemaId, opts.payload) : opts.payload,
  };
}

function asV1(schemaId: SchemaId, payload: object): unknown {
  const v1 = decodePayload(schemaId, 'v1', payload);
  // Only a producer bug gets here: the payload was built from the v2 contract.
  if (!v1.ok) throw new Error(`${schemaId} cannot be published on v1: ${v1.error.message}`);
  return v1.value;
}
