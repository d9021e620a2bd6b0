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
import { decodeEnvelope, type EventEnvelope } from '@mdp/contracts';
import { signatureProblem } from './signing';

export const FIELD = { id: 'id', schemaId: 'schema_id', track: 'track', envelope: 'envelope' } as const;

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
  const json = fieldOf(fields, FIELD.envelope);
  const hintId = fieldOf(fields, FIELD.id);
  const hintTrack = fieldOf(fields, FIELD.track);
  if (json === undefined) return { ok: false, reason: `no envelope: entry has no "${FIELD.envelope}" field`, envelopeId: hintId, track: hintTrack };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return { ok: false, reason: `envelope is not valid JSON: ${(err as Error).message}`, envelopeId: hintId, track: hintTrack };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reason: 'no envelope: the envelope field is not a JSON object', envelopeId: hintId, track: hintTrack };
  }
  const decoded = decodeEnvelope<T>(raw);
  if (!decoded.ok) {
    const obj = raw as { id?: unknown; meta?: { track?: unknown } };
    return {
      ok: false,
      reason: `${decoded.error.code === 'invalid' ? 'schema' : decoded.error.code}: ${decoded.error.message}`,
      envelopeId: typeof obj.id === 'string' ? obj.id : hintId,
      track: typeof obj.meta?.track === 'string' ? obj.meta.track : hintTrack,
    };
  }
  if (token) {
    const problem = signatureProblem(raw as Record<string, unknown>, token);
    if (problem) return { ok: false, reason: problem, envelopeId: decoded.value.id, track: decoded.value.meta.track };
  }
  return { ok: true, envelope: decoded.value };
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
