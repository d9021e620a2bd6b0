/**
 * The Redis stream entry layout: a public wire format (see README "Wire format").
 *
 * Source entry fields, in this order:
 *   id         envelope id (producer-assigned, used for idempotency; NOT the Redis entry id)
 *   schema_id  envelope meta.schema_id
 *   track      envelope meta.track
 *   envelope   the whole envelope as UTF-8 JSON (the only field a reader needs)
 *
 * Dead-letter entry fields: see `dlqFields`.
 */
import { decodeEnvelope, decodePayload, type EventEnvelope } from '@mdp/contracts';
import { signatureProblem } from './signing';

export const FIELD = {
  id: 'id',
  schemaId: 'schema_id',
  track: 'track',
  envelope: 'envelope',
} as const;

/** Flat `[field, value, field, value, ...]` as XADD takes and XREAD returns it. */
export type Fields = string[];

export function encodeEntry(envelope: EventEnvelope<unknown>): Fields {
  return [
    FIELD.id,
    envelope.id,
    FIELD.schemaId,
    envelope.meta.schema_id,
    FIELD.track,
    envelope.meta.track,
    FIELD.envelope,
    JSON.stringify(envelope),
  ];
}

export function fieldOf(fields: Fields, name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export function fieldsToObject(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}

export function objectToFields(obj: Record<string, string>): Fields {
  const out: Fields = [];
  for (const [k, v] of Object.entries(obj)) out.push(k, v);
  return out;
}

export type DecodedEntry<T = unknown> =
  | { ok: true; envelope: EventEnvelope<T> }
  | { ok: false; reason: string; envelopeId?: string; track?: string };

/**
 * Decodes and validates one entry: JSON, envelope shape, payload schema for (schema_id, track), and
 * the signature when a token is configured. Never throws; a failure carries a readable reason.
 */
export function decodeEntry<T = unknown>(fields: Fields, token?: string): DecodedEntry<T> {
  // Writers put the envelope last (see encodeEntry): look there before searching.
  const json =
    fields[fields.length - 2] === FIELD.envelope
      ? fields[fields.length - 1]
      : fieldOf(fields, FIELD.envelope);
  if (json === undefined)
    return rejected(fields, `no envelope: entry has no "${FIELD.envelope}" field`);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return rejected(fields, `envelope is not valid JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return rejected(fields, 'no envelope: the envelope field is not a JSON object');
  }
  let envelope = quickEnvelope<T>(raw as Record<string, unknown>);
  if (!envelope) {
    const decoded = decodeEnvelope<T>(raw);
    if (!decoded.ok) {
      const obj = raw as { id?: unknown; meta?: { track?: unknown } };
      return {
        ok: false,
        reason: `${decoded.error.code === 'invalid' ? 'schema' : decoded.error.code}: ${decoded.error.message}`,
        envelopeId: typeof obj.id === 'string' ? obj.id : fieldOf(fields, FIELD.id),
        track: typeof obj.meta?.track === 'string' ? obj.meta.track : fieldOf(fields, FIELD.track),
      };
    }
    envelope = decoded.value;
  }
  if (token) {
    const problem = signatureProblem(raw as Record<string, unknown>, token);
    if (problem)
      return { ok: false, reason: problem, envelopeId: envelope.id, track: envelope.meta.track };
  }
  return { ok: true, envelope };
}

function rejected(fields: Fields, reason: string): DecodedEntry<never> {
  return {
    ok: false,
    reason,
    envelopeId: fieldOf(fields, FIELD.id),
    track: fieldOf(fields, FIELD.track),
  };
}

/**
 * `decodeEnvelope` for the everyday case, without zod's per-field bookkeeping on the envelope: the
 * checks of the contract's `EventEnvelope` (non-empty id, string key, ts >= 0, non-empty schema_id
 * and track, headers a string map or absent), then the payload through the contract registry. It
 * builds the same value `decodeEnvelope` returns (unknown keys stripped, headers defaulting to {});
 * whatever it does not accept (including every invalid envelope) returns undefined and goes through
 * `decodeEnvelope`, so errors are the contract's own. The test suite holds the two to the same output.
 */
export function quickEnvelope<T>(raw: Record<string, unknown>): EventEnvelope<T> | undefined {
  const { id, key, ts, meta } = raw;
  if (typeof id !== 'string' || id.length === 0 || typeof key !== 'string') return undefined;
  if (typeof ts !== 'number' || !(ts >= 0) || ts === Infinity) return undefined;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return undefined;
  const { schema_id: schemaId, track, headers } = meta as Record<string, unknown>;
  if (
    typeof schemaId !== 'string' ||
    schemaId.length === 0 ||
    typeof track !== 'string' ||
    track.length === 0
  )
    return undefined;
  let outHeaders: Record<string, string>;
  if (headers === undefined) outHeaders = {};
  else if (isPlainStringMap(headers)) outHeaders = headers;
  else return undefined;
  const payload = decodePayload<T>(schemaId, track, raw.payload);
  if (!payload.ok) return undefined;
  return {
    id,
    key,
    ts,
    meta: {
      schema_id: schemaId,
      track: track as EventEnvelope['meta']['track'],
      headers: outHeaders,
    },
    payload: payload.value,
  };
}

/** A JSON object whose values are all strings, with no key zod's record would treat specially. */
function isPlainStringMap(v: unknown): v is Record<string, string> {
  if (
    v === null ||
    typeof v !== 'object' ||
    Array.isArray(v) ||
    Object.getPrototypeOf(v) !== Object.prototype
  )
    return false;
  for (const k in v) {
    if (k === '__proto__' || typeof (v as Record<string, unknown>)[k] !== 'string') return false;
  }
  return true;
}

export const DLQ_FIELD = {
  sourceStream: 'source_stream',
  sourceEntryId: 'source_entry_id',
  group: 'group',
  consumer: 'consumer',
  reason: 'reason',
  attempts: 'attempts',
  failedAt: 'failed_at',
  id: 'id',
  envelope: 'envelope',
  raw: 'raw',
} as const;

export interface DeadLetterInfo {
  sourceStream: string;
  sourceEntryId: string;
  group: string;
  consumer: string;
  reason: string;
  attempts: number;
  /** The original entry fields. */
  fields: Fields;
}

/** Dead-letter entry: who/why/how often, the original envelope field verbatim and all original fields. */
export function dlqFields(info: DeadLetterInfo): Fields {
  const out: Fields = [
    DLQ_FIELD.sourceStream,
    info.sourceStream,
    DLQ_FIELD.sourceEntryId,
    info.sourceEntryId,
    DLQ_FIELD.group,
    info.group,
    DLQ_FIELD.consumer,
    info.consumer,
    DLQ_FIELD.reason,
    info.reason,
    DLQ_FIELD.attempts,
    String(info.attempts),
    DLQ_FIELD.failedAt,
    String(Date.now() / 1000),
  ];
  const id = fieldOf(info.fields, FIELD.id);
  if (id !== undefined) out.push(DLQ_FIELD.id, id);
  const envelope = fieldOf(info.fields, FIELD.envelope);
  if (envelope !== undefined) out.push(DLQ_FIELD.envelope, envelope);
  out.push(DLQ_FIELD.raw, JSON.stringify(fieldsToObject(info.fields)));
  return out;
}
