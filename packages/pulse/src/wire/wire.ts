/**
 * The Redis stream entry layouts: public wire formats (see README "Wire format"). `mdp` is pulse's
 * own; `core` is the Python market-data-core's (`encodeCoreEntry` / `decodeCoreEntry`).
 *
 * Source entry fields, in this order:
 *   id         envelope id (producer-assigned, used for idempotency; NOT the Redis entry id)
 *   schema_id  envelope meta.schema_id
 *   track      envelope meta.track
 *   envelope   the whole envelope as UTF-8 JSON (the only field a reader needs)
 *
 * Dead-letter entry fields: see `dlqFields`.
 */
import {
  decodeEnvelope,
  EventEnvelope,
  fromCoreBody,
  isSchemaId,
  lookupSchema,
  toCoreBody,
} from '@mdp/contracts';
import { compile, type z } from 'zod';
import { SIGNATURE_HEADER, signatureOf, signatureProblem } from './signing';

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

/** The core layout's one field: `{ ts, key, meta: { schema_id, track, headers, hash }, payload }` as JSON. */
export const CORE_FIELD = { data: 'data' } as const;

/**
 * The entry the core's `RedisStreamsBus` writes and reads: one field `data` holding the envelope
 * without `id` (the Redis entry id is the id; see `toCoreBody`). With a token, the signature header
 * covers that body, as `decodeCoreEntry` checks it.
 */
export function encodeCoreEntry(envelope: EventEnvelope<unknown>, token?: string): Fields {
  const body = toCoreBody(envelope);
  if (token)
    body.meta.headers = {
      ...body.meta.headers,
      [SIGNATURE_HEADER]: signatureOf({ ...body }, token),
    };
  return [CORE_FIELD.data, JSON.stringify(body)];
}

/**
 * Decodes a core-layout entry into an mdp envelope (`fromCoreBody`: the entry id becomes the
 * envelope id, class-path schema ids map to mdp's, the store's nested envelope is unwrapped), then
 * validates it like any entry. The signature, when a token is configured, covers the JSON object in
 * `data` as written.
 */
export function decodeCoreEntry<T = unknown>(
  fields: Fields,
  entryId: string,
  token?: string,
): DecodedEntry<T> {
  const json = fieldOf(fields, CORE_FIELD.data);
  if (json === undefined)
    return {
      ok: false,
      reason: `no envelope: entry has no "${CORE_FIELD.data}" field (core layout)`,
    };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return { ok: false, reason: `envelope is not valid JSON: ${(err as Error).message}` };
  }
  if (!isObject(raw))
    return { ok: false, reason: 'no envelope: the data field is not a JSON object' };
  if (token) {
    const problem = signatureProblem(raw, token);
    if (problem) return { ok: false, reason: problem, envelopeId: entryId };
  }
  const candidate = fromCoreBody(raw, entryId);
  const envelope = candidate.ok ? quickEnvelope<T>(candidate.value) : undefined;
  if (envelope) return { ok: true, envelope };
  const decoded = candidate.ok ? decodeEnvelope<T>(candidate.value) : candidate;
  if (decoded.ok) return { ok: true, envelope: decoded.value };
  const meta = candidate.ok ? (candidate.value as { meta?: { track?: unknown } }).meta : undefined;
  return {
    ok: false,
    reason: `${decoded.error.code === 'invalid' ? 'schema' : decoded.error.code}: ${decoded.error.message}`,
    envelopeId: entryId,
    track: typeof meta?.track === 'string' ? meta.track : undefined,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
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
