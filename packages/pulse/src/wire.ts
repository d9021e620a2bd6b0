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
import { decodeEnvelope, EventEnvelope, isSchemaId, lookupSchema } from '@mdp/contracts';
import { compile, type z } from 'zod';
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
  let envelope = quickEnvelope<T>(raw);
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
 * The contract's schemas compiled by zod (`z.compile`: generated code for the valid case, zod's own
 * runtime for everything else), so the everyday envelope skips zod's per-field bookkeeping.
 */
const compiledEnvelope = compile(EventEnvelope);
const compiledPayloads = new Map<string, Map<string, z.ZodType | null>>();

function payloadSchema(schemaId: string, track: string): z.ZodType | null {
  let byTrack = compiledPayloads.get(schemaId);
  if (!byTrack) {
    // Only registered ids are cached, so junk ids cannot grow the map.
    if (!isSchemaId(schemaId)) return null;
    compiledPayloads.set(schemaId, (byTrack = new Map()));
  }
  let schema = byTrack.get(track);
  if (schema === undefined) {
    const found = lookupSchema(schemaId, track);
    schema = found.ok ? compile(found.value) : null;
    if (found.ok) byTrack.set(track, schema);
  }
  return schema;
}

/**
 * `decodeEnvelope` for the valid case through the compiled schemas: the same value (envelope, then
 * its payload against `(meta.schema_id, meta.track)`). Anything invalid returns undefined and goes
 * through `decodeEnvelope`, so errors are the contract's own.
 */
export function quickEnvelope<T>(raw: unknown): EventEnvelope<T> | undefined {
  const env = compiledEnvelope.safeParse(raw);
  if (!env.success) return undefined;
  const schema = payloadSchema(env.data.meta.schema_id, env.data.meta.track);
  if (!schema) return undefined;
  const payload = schema.safeParse(env.data.payload);
  if (!payload.success) return undefined;
  env.data.payload = payload.data;
  return env.data as EventEnvelope<T>;
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
  /** Epoch ms; default now. */
  failedAt?: number;
}

/**
 * Dead-letter entry: who/why/how often, the original envelope field verbatim and the other original
 * fields as JSON in `raw` (`readDeadLetters` puts them back together).
 */
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
    String((info.failedAt ?? Date.now()) / 1000),
  ];
  const id = fieldOf(info.fields, FIELD.id);
  if (id !== undefined) out.push(DLQ_FIELD.id, id);
  const envelope = fieldOf(info.fields, FIELD.envelope);
  if (envelope !== undefined) out.push(DLQ_FIELD.envelope, envelope);
  // `raw` holds the other original fields: the envelope is stored once, in its own field.
  const raw = fieldsToObject(info.fields);
  delete raw[FIELD.envelope];
  out.push(DLQ_FIELD.raw, JSON.stringify(raw));
  return out;
}
