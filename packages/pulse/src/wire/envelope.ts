import { randomUUID } from 'crypto';
import { decodePayload, lookupSchema, type EventEnvelope, type SchemaTrack } from '@mdp/contracts';

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

/** Builds an envelope with a fresh UUID id and `ts` in epoch seconds; the payload goes out as given. */
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

/**
 * The envelope a publisher sends on `track`: on v1 the payload is what the contract's v1 schema makes
 * of it (v2-only fields dropped at every depth), so strict v1 readers such as the Python core see
 * exactly what they know. Every publisher of the system builds its envelopes here.
 */
export function envelopeFor<T extends object>(
  schemaId: string,
  payload: T,
  opts: CreateEnvelopeOptions & { track: SchemaTrack },
): EventEnvelope<T> {
  return createEnvelope(
    schemaId,
    (opts.track === 'v1' ? payloadForV1(schemaId, payload) : payload) as T,
    opts,
  );
}

const v1KeysCache = new Map<string, readonly string[] | null>();

/**
 * The v1 form of a payload. A payload whose v1 fields are all scalars is copied field by field (what
 * the schema's strip would give, without a parse per event on the publishing hot path); anything
 * nested goes through the v1 schema, which also drops v2-only fields inside.
 */
export function payloadForV1(schemaId: string, payload: object): unknown {
  const keys = v1KeysOf(schemaId);
  if (keys) {
    const src = payload as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let flat = true;
    for (let i = 0; i < keys.length; i++) {
      const value = src[keys[i]];
      if (value === undefined) continue;
      if (typeof value === 'object' && value !== null) {
        flat = false;
        break;
      }
      out[keys[i]] = value;
    }
    if (flat) return out;
  }
  const v1 = decodePayload(schemaId, 'v1', payload);
  // Only a producer bug gets here: the payload was built from the v2 contract.
  if (!v1.ok) throw new Error(`${schemaId} cannot be published on v1: ${v1.error.message}`);
  return v1.value;
}

function v1KeysOf(schemaId: string): readonly string[] | null {
  let keys = v1KeysCache.get(schemaId);
  if (keys === undefined) {
    const schema = lookupSchema(schemaId, 'v1');
    const shape = schema.ok
      ? (schema.value as { shape?: Record<string, unknown> }).shape
      : undefined;
    keys = shape ? Object.keys(shape) : null;
    v1KeysCache.set(schemaId, keys);
  }
  return keys;
}
