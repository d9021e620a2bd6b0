import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEnvelope, decodePayload, jsonSchemaDocuments, type FeedbackEventV1 } from '../src';
import { newAjv } from './ajv';
import { BAD_FEEDBACK_PATCHES, clone, SAMPLES } from './samples';

/** Just enough of a JSON Schema node to compare the facts below. */
interface SchemaNode {
  required: string[];
  properties: Record<string, SchemaNode>;
  items: SchemaNode;
  $defs: Record<string, SchemaNode>;
  enum?: string[];
  type?: string;
  additionalProperties?: unknown;
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, 'fixtures/python-core-v1', name), 'utf8')) as SchemaNode;
const ours = (path: string) =>
  jsonSchemaDocuments().find((d) => d.path === path)!.schema as unknown as SchemaNode;

/**
 * Wire compatibility with the Python market-data-core v1 contracts: Python-shaped events decode here,
 * and what we produce on v1 validates against the Python JSON Schemas (reconstructed from the
 * original store's registry fixtures).
 */
describe('Python core v1 compatibility', () => {
  const ajv = newAjv();
  const pyFeedback = ajv.compile(fixture('telemetry.FeedbackEvent.json'));
  const pyHealth = ajv.compile(fixture('telemetry.HealthStatus.json'));
  const pyComponent = ajv.compile(fixture('telemetry.HealthComponent.json'));

  it('decodes the documented Python store feedback envelope', () => {
    const r = decodeEnvelope<FeedbackEventV1>(fixture('feedback-envelope.json'));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.meta).toEqual({
      schema_id: 'telemetry.FeedbackEvent',
      track: 'v1',
      headers: { reason: 'queue_high_watermark', utilization: '0.800000' },
    });
    expect(r.value.payload).toEqual({
      coordinator_id: 'bars-coord',
      queue_size: 80,
      capacity: 100,
      level: 'soft',
      source: 'store',
      ts: 1729234567.123,
    });
  });

  it.each(['ok', 'soft', 'hard'])(
    'our v1 and v2 FeedbackEvent (level %s) validate against the Python v1 schema',
    (level) => {
      for (const track of ['v1', 'v2'] as const) {
        const r = decodePayload('telemetry.FeedbackEvent', track, {
          ...SAMPLES['telemetry.FeedbackEvent'][track],
          level,
        });
        expect(r.ok).toBe(true);
        if (r.ok && !pyFeedback(clone(r.value))) throw new Error(ajv.errorsText(pyFeedback.errors));
      }
    },
  );

  it('the Python v1 schema is a real check (it rejects what it should)', () => {
    const base = SAMPLES['telemetry.FeedbackEvent'].v1;
    for (const patch of [...BAD_FEEDBACK_PATCHES, { ts: undefined }]) {
      expect(pyFeedback(JSON.parse(JSON.stringify({ ...base, ...patch })))).toBe(false);
    }
  });

  it('our HealthStatus and HealthComponent (both tracks) validate against the Python v1 schemas', () => {
    for (const track of ['v1', 'v2'] as const) {
      const status = decodePayload(
        'telemetry.HealthStatus',
        track,
        SAMPLES['telemetry.HealthStatus'][track],
      );
      const comp = decodePayload('telemetry.HealthComponent', track, {
        name: 'redis',
        state: 'unhealthy',
      });
      if (!status.ok || !comp.ok) throw new Error('samples must decode');
      if (!pyHealth(clone(status.value))) throw new Error(ajv.errorsText(pyHealth.errors));
      if (!pyComponent(clone(comp.value))) throw new Error(ajv.errorsText(pyComponent.errors));
    }
  });

  it('a minimal Python HealthStatus (required fields only) decodes', () => {
    const r = decodePayload('telemetry.HealthStatus', 'v1', {
      service: 'market-data-store',
      state: 'healthy',
      version: '0.6.4',
      ts: 1729234567.5,
    });
    expect(r).toEqual({
      ok: true,
      value: {
        service: 'market-data-store',
        state: 'healthy',
        version: '0.6.4',
        ts: 1729234567.5,
        components: [],
      },
    });
  });

  it('our exported v1 FeedbackEvent schema states the same facts as the Python one', () => {
    const py = fixture('telemetry.FeedbackEvent.json');
    const mine = ours('v1/telemetry.FeedbackEvent.json');
    expect([...mine.required].sort()).toEqual([...py.required].sort());
    expect(Object.keys(mine.properties).sort()).toEqual(Object.keys(py.properties).sort());
    expect(mine.properties.queue_size).toMatchObject({ type: 'integer', minimum: 0 });
    expect(mine.properties.capacity).toMatchObject({ type: 'integer', exclusiveMinimum: 0 });
    expect(mine.properties.level.enum).toEqual(py.$defs.BackpressureLevel.enum);
    expect(mine.properties.source).toMatchObject({ type: 'string', default: 'store' });
    expect(mine.properties.ts.type).toBe('number');
  });

  it('our exported v1 Health schemas state the same facts as the Python ones', () => {
    const pyStatus = fixture('telemetry.HealthStatus.json');
    const pyComp = fixture('telemetry.HealthComponent.json');
    const status = ours('v1/telemetry.HealthStatus.json');
    const comp = ours('v1/telemetry.HealthComponent.json');
    expect([...status.required].sort()).toEqual([...pyStatus.required].sort());
    expect([...comp.required].sort()).toEqual([...pyComp.required].sort());
    expect(Object.keys(status.properties).sort()).toEqual(Object.keys(pyStatus.properties).sort());
    expect(status.properties.state.enum).toEqual(pyStatus.properties.state.enum);
    expect(status.properties.ts.type).toBe('number');
    expect(comp.properties.details.additionalProperties).toEqual({ type: 'string' });
    expect([...status.properties.components.items.required].sort()).toEqual(['name', 'state']);
  });
});
