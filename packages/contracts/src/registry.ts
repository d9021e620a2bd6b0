import type { z } from 'zod';
import { ContractError, DecodeResult, fromZodError } from './errors';
import { SchemaTrack } from './primitives';
import {
  ControlActionV1,
  ControlActionV2,
  ControlResultV1,
  ControlResultV2,
} from './control/control-action';
import { ClusterTopologyV1, ClusterTopologyV2 } from './federation/topology';
import { BarV1, BarV2 } from './md/bar';
import { FundamentalsV1, FundamentalsV2 } from './md/fundamentals';
import { NewsV1, NewsV2 } from './md/news';
import { OptionSnapV1, OptionSnapV2 } from './md/option-snap';
import { AuditEnvelopeV1, AuditEnvelopeV2 } from './telemetry/audit';
import { FeedbackEventV1, FeedbackEventV2 } from './telemetry/feedback';
import {
  HealthComponentV1,
  HealthComponentV2,
  HealthStatusV1,
  HealthStatusV2,
} from './telemetry/health';
import { RateAdjustmentV1, RateAdjustmentV2 } from './telemetry/rate-adjustment';

export type TrackedSchemas = Record<SchemaTrack, z.ZodType>;

/**
 * `(schema_id, track) -> schema`. Every contract has both tracks; v2 only adds optional fields, so
 * either track's reader accepts the other's events (zod objects ignore unknown keys).
 * The ids carried on streams are listed in SYSTEM.md; `telemetry.HealthComponent`,
 * `control.ControlResult` and `federation.ClusterTopology` travel over HTTP and are registered so they
 * get the same decoding and JSON Schema export.
 */
export const SCHEMAS = {
  'telemetry.FeedbackEvent': { v1: FeedbackEventV1, v2: FeedbackEventV2 },
  'telemetry.RateAdjustment': { v1: RateAdjustmentV1, v2: RateAdjustmentV2 },
  'telemetry.AuditEnvelope': { v1: AuditEnvelopeV1, v2: AuditEnvelopeV2 },
  'telemetry.HealthStatus': { v1: HealthStatusV1, v2: HealthStatusV2 },
  'telemetry.HealthComponent': { v1: HealthComponentV1, v2: HealthComponentV2 },
  'control.ControlAction': { v1: ControlActionV1, v2: ControlActionV2 },
  'control.ControlResult': { v1: ControlResultV1, v2: ControlResultV2 },
  'federation.ClusterTopology': { v1: ClusterTopologyV1, v2: ClusterTopologyV2 },
  'md.Bar': { v1: BarV1, v2: BarV2 },
  'md.OptionSnap': { v1: OptionSnapV1, v2: OptionSnapV2 },
  'md.News': { v1: NewsV1, v2: NewsV2 },
  'md.Fundamentals': { v1: FundamentalsV1, v2: FundamentalsV2 },
} satisfies Record<string, TrackedSchemas>;

export type SchemaId = keyof typeof SCHEMAS;
export const SCHEMA_IDS = Object.keys(SCHEMAS) as SchemaId[];

/** The decoded payload type of `(schemaId, track)`. */
export type PayloadOf<Id extends SchemaId, Track extends SchemaTrack = 'v2'> = z.output<
  (typeof SCHEMAS)[Id][Track]
>;

export function isSchemaId(id: string): id is SchemaId {
  return Object.prototype.hasOwnProperty.call(SCHEMAS, id);
}

/** The schema for `(schemaId, track)`, or a typed error for an unknown id or track. */
export function lookupSchema(schemaId: string, track: string): DecodeResult<z.ZodType> {
  if (!isSchemaId(schemaId)) {
    return {
      ok: false,
      error: new ContractError(
        'unknown_schema',
        [{ path: 'meta.schema_id', message: `unknown schema id "${schemaId}"` }],
        schemaId,
      ),
    };
  }
  const parsedTrack = SchemaTrack.safeParse(track);
  if (!parsedTrack.success) {
    return {
      ok: false,
      error: new ContractError(
        'unknown_track',
        [{ path: 'meta.track', message: `unknown schema track "${track}"` }],
        schemaId,
      ),
    };
  }
  return { ok: true, value: SCHEMAS[schemaId][parsedTrack.data] };
}

/** Validates `data` against `(schemaId, track)`; never throws. */
export function decodePayload<T = unknown>(
  schemaId: string,
  track: string,
  data: unknown,
): DecodeResult<T> {
  const schema = lookupSchema(schemaId, track);
  if (!schema.ok) return schema;
  const parsed = schema.value.safeParse(data);
  return parsed.success
    ? { ok: true, value: parsed.data as T }
    : { ok: false, error: fromZodError(parsed.error, data, schemaId) };
}
