/**
 * Names the Python `market-data-core` (1.4.x) puts on the wire that differ from mdp's.
 *
 * Its Redis bus writes `meta.schema_id` from the payload's class path (`market_data_core.` stripped):
 * a FeedbackEvent published by the core is `telemetry.backpressure.FeedbackEvent`, and the store's
 * publisher, which hands the bus a whole `EventEnvelope`, produces `events.envelope.EventEnvelope`
 * whose payload is the inner envelope. Its reader, though, resolves `telemetry.FeedbackEvent` and
 * `telemetry.RateAdjustment`: mdp's ids, which is what mdp writes.
 */
import { decodeEnvelope } from './decode';
import type { EventEnvelope } from './envelope';
import { ContractError, type DecodeResult } from './errors';
import { isSchemaId, type SchemaId } from './registry';

/** The schema id of an envelope that carries another envelope as its payload. */
export const CORE_ENVELOPE_SCHEMA_ID = 'events.envelope.EventEnvelope';

/** Core class paths (without `market_data_core.`) of the contracts mdp shares with it. */
export const CORE_CLASS_PATHS: Readonly<Record<string, SchemaId>> = {
  'telemetry.backpressure.FeedbackEvent': 'telemetry.FeedbackEvent',
  'telemetry.backpressure.RateAdjustment': 'telemetry.RateAdjustment',
  'telemetry.health.HealthStatus': 'telemetry.HealthStatus',
  'telemetry.health.HealthComponent': 'telemetry.HealthComponent',
  'telemetry.control.AuditEnvelope': 'telemetry.AuditEnvelope',
  'telemetry.control.ControlResult': 'control.ControlResult',
};

/**
 * mdp's schema id for a schema id found on a core stream: mdp ids stay, class paths (with or without
 * `market_data_core.`) map through CORE_CLASS_PATHS, the nested envelope keeps its own id, and
 * anything else is returned as it is (the registry then reports it as unknown).
 */
export function fromCoreSchemaId(schemaId: string): string {
  const id = schemaId.startsWith('market_data_core.')
    ? schemaId.slice('market_data_core.'.length)
    : schemaId;
  if (isSchemaId(id) || id === CORE_ENVELOPE_SCHEMA_ID) return id;
  return CORE_CLASS_PATHS[id] ?? schemaId;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** What the core's JSON codec writes for an envelope: no `id` (the backend's entry id is the id). */
export interface CoreBody {
  ts: number;
  key: string | null;
  meta: { schema_id: string; track: string; headers: Record<string, string>; hash: string | null };
  payload: unknown;
}

/** The core codec's body for an mdp envelope (mdp's schema ids are the names the core's reader resolves). */
export function toCoreBody(envelope: EventEnvelope): CoreBody {
  const { schema_id, track, headers, hash } = envelope.meta;
  return {
    ts: envelope.ts,
    key: envelope.key,
    meta: { schema_id, track, headers, hash: hash ?? null },
    payload: envelope.payload,
  };
}

/**
 * The envelope a core body stands for, not yet validated: `id` is the entry id, class-path schema ids
 * are mapped to mdp's, and a nested envelope (`events.envelope.EventEnvelope`, what the store's
 * publisher produces) is replaced by the envelope it carries.
 */
export function fromCoreBody(body: Record<string, unknown>, id: string): DecodeResult<unknown> {
  let inner = body;
  if (isObject(inner.meta) && inner.meta.schema_id === CORE_ENVELOPE_SCHEMA_ID) {
    if (!isObject(inner.payload)) {
      const issue = {
        path: 'payload',
        message: `${CORE_ENVELOPE_SCHEMA_ID} must carry an envelope`,
      };
      return { ok: false, error: new ContractError('invalid', [issue], CORE_ENVELOPE_SCHEMA_ID) };
    }
    inner = inner.payload;
  }
  const meta = inner.meta;
  const mapped =
    isObject(meta) && typeof meta.schema_id === 'string'
      ? { ...meta, schema_id: fromCoreSchemaId(meta.schema_id) }
      : meta;
  return { ok: true, value: { ...inner, id, meta: mapped } };
}

/** `fromCoreBody`, then `decodeEnvelope`: a core body as a validated mdp envelope. */
export function decodeCoreBody<T = unknown>(
  body: unknown,
  id: string,
): DecodeResult<EventEnvelope<T>> {
  if (!isObject(body)) {
    const issue = { path: '', message: 'must be a JSON object' };
    return { ok: false, error: new ContractError('invalid', [issue]) };
  }
  const candidate = fromCoreBody(body, id);
  return candidate.ok ? decodeEnvelope<T>(candidate.value) : candidate;
}
