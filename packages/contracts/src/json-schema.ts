import { z } from 'zod';
import { EventEnvelope } from './envelope';
import { SCHEMA_TRACKS, SchemaTrack } from './primitives';
import { SCHEMA_IDS, SCHEMAS } from './registry';

/**
 * JSON Schema export, shared by `scripts/export-schemas.ts` (writes the files) and the drift test
 * (compares them). Pure: returns documents, never touches the file system.
 *
 * - `io: 'input'` describes what a producer may put on the wire: fields with defaults (`source`,
 *   `details`, `components`, `headers`) are optional, as in the Python core's schemas, and objects stay
 *   open (no `additionalProperties: false`), which is what lets a v1 reader accept v2 events.
 * - `target: 'draft-07'`: the dialect the original contract tests validated with.
 * - Refinements (e.g. Bar's OHLC invariant, set_scale's required fields) are not expressible and are
 *   left out; the zod schemas remain the authority.
 */
export const JSON_SCHEMA_OPTIONS = { io: 'input', target: 'draft-07' } as const;

/** Exported in addition to the registry: the envelope is the same on both tracks. */
export const ENVELOPE_SCHEMA_ID = 'EventEnvelope';

export interface JsonSchemaDocument {
  track: SchemaTrack;
  schemaId: string;
  /** Relative to `packages/contracts/schemas`. */
  path: string;
  schema: Record<string, unknown>;
}

export function toJsonSchema(
  schema: z.ZodType,
  schemaId: string,
  track: SchemaTrack,
): Record<string, unknown> {
  const generated = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS) as Record<string, unknown>;
  return sortKeys({
    ...generated,
    title: schemaId,
    'x-schema-id': schemaId,
    'x-track': track,
  }) as Record<string, unknown>;
}

/** Every registered contract on every track, plus the envelope, in a stable order. */
export function jsonSchemaDocuments(): JsonSchemaDocument[] {
  const docs: JsonSchemaDocument[] = [];
  for (const track of SCHEMA_TRACKS) {
    const entries: [string, z.ZodType][] = [
      ...SCHEMA_IDS.map((id): [string, z.ZodType] => [id, SCHEMAS[id][track]]),
      [ENVELOPE_SCHEMA_ID, EventEnvelope],
    ];
    for (const [schemaId, schema] of entries) {
      docs.push({
        track,
        schemaId,
        path: `${track}/${schemaId}.json`,
        schema: toJsonSchema(schema, schemaId, track),
      });
    }
  }
  return docs;
}

/** File text: two-space JSON with a final newline. */
export function renderJsonSchema(doc: JsonSchemaDocument): string {
  return `${JSON.stringify(doc.schema, null, 2)}\n`;
}

/** Object keys sorted at every depth, so the files never change with declaration or zod internals. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
