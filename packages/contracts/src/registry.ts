import type { z } from 'zod';
import { ContractError, DecodeResult, fromZodError } from './errors';
import { SchemaTrack } from './primitives';
import { BarV1, BarV2 } from './md/bar';
import { FeedbackEventV1, FeedbackEventV2 } from './telemetry/feedback';
import { RateAdjustmentV1, RateAdjustmentV2 } from './telemetry/rate-adjustment';

export type TrackedSchemas = Record<SchemaTrack, z.ZodType>;

/**
 * `(schema_id, track) -> schema`. Every contract has both tracks; v2 only adds optional fields, so
 * either track's reader accepts the other's events (zod objects ignore unknown keys).
 */
export const SCHEMAS = {
  'telemetry.FeedbackEvent': { v1: FeedbackEventV1, v2: FeedbackEventV2 },
  'telemetry.RateAdjustment': { v1: RateAdjustmentV1, v2: RateAdjustmentV2 },
  'md.Bar': { v1: BarV1, v2: BarV2 },
} satisfies Record<string, TrackedSchemas>;

export type SchemaId = keyof typeof SCHEMAS;
export const SCHEMA_IDS = Object.keys(SCHEMAS) as SchemaId[];

export function isSchemaId(id: string): id is SchemaId {
  return Object.prototype.hasOwnProperty.call(SCHEMAS, id);
}

/** The schema for `(schemaId, track)`, or a typed error for an unknown id or track. */
export function lookupSchema(schemaId: string, track: string): DecodeResult<z.ZodType> {
  if (!isSchemaId(schemaId)) {
    return { ok: false, error: new ContractError('unknown_schema', [{ path: 'meta.schema_id', message: `unknown schema id "${schemaId}"` }], schemaId) };
  }
  const parsedTrack = SchemaTrack.safeParse(track);
  if (!parsedTrack.success) {
    return { ok: false, error: new ContractError('unknown_track', [{ path: 'meta.track', message: `unknown schema track "${track}"` }], schemaId) };
  }
  return { ok: true, value: SCHEMAS[schemaId][parsedTrack.data] };
}

/** Validates `data` against `(schemaId, track)`; never throws. */
export function decodePayload<T = unknown>(schemaId: string, track: string, data: unknown): DecodeResult<T> {
  const schema = lookupSchema(schemaId, track);
  if (!schema.ok) return schema;
  const parsed = schema.value.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data as T } : { ok: false, error: fromZodError(parsed.error, data, schemaId) };
}
