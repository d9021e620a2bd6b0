import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  auditEntry,
  CONTROL_OUTCOMES,
  controlResult,
  decodeCoreBody,
  decodeEnvelope,
  decodePayload,
  fromCoreSchemaId,
  SCHEMA_TRACKS,
  toCoreBody,
  type EventEnvelope,
} from '../src';
import { CORE_DIR, CORE_MODELS, coreModelOf, coreProblems, readCore } from './core-rules';
import { clone, SAMPLES } from './samples';

interface Case {
  name: string;
  input: Record<string, unknown>;
  parsed: Record<string, unknown>;
}
interface PayloadFixture {
  schema_id: string;
  model: string;
  cases: Case[];
}

const payloadFixtures = readdirSync(join(CORE_DIR, 'payloads')).map((f) =>
  readCore<PayloadFixture>(`payloads/${f}`),
);
const envelopeCases = readCore<{ cases: Case[] }>('envelopes.json').cases;
const bodyFiles = readdirSync(join(CORE_DIR, 'bodies'));
const SHARED_IDS = Object.values(CORE_MODELS).flatMap((m) => (m.schema_id ? [m.schema_id] : []));

/** mdp leaves `meta.hash` out when absent; the core's model fills in its default, null. */
const withCoreHash = (env: EventEnvelope) => ({
  ...env,
  meta: { ...env.meta, hash: env.meta.hash ?? null },
});

describe('golden fixtures of market-data-core 1.4.61 (hand-written from its models)', () => {
  it('cover every contract mdp shares with the core', () => {
    expect(payloadFixtures.map((f) => f.schema_id).sort()).toEqual(
      [
        'control.ControlResult',
        'telemetry.AuditEnvelope',
        'telemetry.FeedbackEvent',
        'telemetry.HealthComponent',
        'telemetry.HealthStatus',
        'telemetry.RateAdjustment',
      ].sort(),
    );
    expect(bodyFiles).toHaveLength(6);
  });

  it('are consistent: every input and parsed form passes the core field rules', () => {
    for (const f of payloadFixtures)
      for (const c of f.cases) {
        expect([f.schema_id, c.name, coreProblems(f.model, c.input)]).toEqual([
          f.schema_id,
          c.name,
          [],
        ]);
        expect(coreProblems(f.model, c.parsed)).toEqual([]);
      }
  });

  describe.each(SCHEMA_TRACKS)('mdp decodes them on track %s', (track) => {
    it.each(payloadFixtures.flatMap((f) => f.cases.map((c) => [f.schema_id, c.name, c] as const)))(
      '%s: %s',
      (schemaId, _name, c) => {
        expect(decodePayload(schemaId, track, c.input)).toEqual({ ok: true, value: c.parsed });
      },
    );

    it.each(envelopeCases.map((c) => [c.name, c] as const))('EventEnvelope: %s', (_name, c) => {
      const input = clone(c.input);
      (input.meta as { track: string }).track = track;
      const r = decodeEnvelope(input);
      if (!r.ok) throw new Error(r.error.message);
      const parsed = clone(c.parsed);
      (parsed.meta as { track: string }).track = track;
      expect(withCoreHash(r.value)).toEqual(parsed);
    });
  });

  it.each(bodyFiles)('the data body %s decodes with the entry id as id', (file) => {
    const body = readCore<Record<string, unknown>>(`bodies/${file}`);
    const nested = file.startsWith('store-publish');
    const inner = (nested ? body.payload : body) as {
      key: string | null;
      ts: number;
      meta: { schema_id: string; track: string; headers: Record<string, string> };
      payload: Record<string, unknown>;
    };
    const r = decodeCoreBody(body, '1729234567125-0');
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).toEqual({
      id: '1729234567125-0',
      key: inner.key,
      ts: inner.ts,
      meta: {
        schema_id: fromCoreSchemaId(inner.meta.schema_id),
        track: inner.meta.track,
        headers: inner.meta.headers,
        hash: (inner.meta as { hash?: unknown }).hash,
      },
      payload: inner.payload,
    });
    expect(r.value.meta.schema_id).toMatch(/^telemetry\.(FeedbackEvent|RateAdjustment)$/);
  });
});

describe('what mdp emits passes the core field rules', () => {
  it.each(SHARED_IDS.flatMap((id) => SCHEMA_TRACKS.map((t) => [id, t] as const)))(
    '%s %s samples, as mdp emits them',
    (schemaId, track) => {
      const r = decodePayload(schemaId, track, SAMPLES[schemaId as keyof typeof SAMPLES][track]);
      if (!r.ok) throw new Error(r.error.message);
      expect(coreProblems(coreModelOf(schemaId), clone(r.value))).toEqual([]);
    },
  );

  it('round trip: each fixture decoded by mdp and sent again is what the core parsed', () => {
    for (const f of payloadFixtures)
      for (const c of f.cases)
        for (const track of SCHEMA_TRACKS) {
          const r = decodePayload(f.schema_id, track, c.input);
          if (!r.ok) throw new Error(r.error.message);
          const sent = clone(r.value);
          expect(coreProblems(f.model, sent)).toEqual([]);
          expect(sent).toEqual(c.parsed);
        }
  });

  it('control results and audit entries for every outcome and verb', () => {
    for (const outcome of CONTROL_OUTCOMES) {
      expect(coreProblems('ControlResult', clone(controlResult(outcome, 'why')))).toEqual([]);
      expect(coreProblems('ControlResult', clone(controlResult(outcome)))).toEqual([]);
      for (const operation of ['pause', 'resume', 'reload', 'set_scale', 'replay_dlq']) {
        const entry = auditEntry({
          actor: 'orchestrator',
          role: 'admin',
          operation,
          result: controlResult(outcome),
          ts: 1729234567.1,
          correlation_id: 'req-1',
        });
        expect(coreProblems('AuditEnvelope', clone(entry))).toEqual([]);
      }
    }
  });

  it('envelopes in the core body layout, v1 and v2, keyed or not', () => {
    for (const track of SCHEMA_TRACKS)
      for (const key of ['bars-coord', null, '']) {
        const env: EventEnvelope = {
          id: 'a',
          key,
          ts: 1729234567.1,
          meta: { schema_id: 'telemetry.FeedbackEvent', track, headers: { reason: 'x' } },
          payload: SAMPLES['telemetry.FeedbackEvent'][track],
        };
        // The core's codec reads `id` with a default of "" and then sets the entry id.
        const asCoreReadsIt = { id: '', ...clone(toCoreBody(env)) };
        expect(coreProblems('EventEnvelope', asCoreReadsIt)).toEqual([]);
        expect(coreProblems('FeedbackEvent', asCoreReadsIt.payload)).toEqual([]);
      }
  });
});

describe('mdp rejects what the core rejects', () => {
  const S = SAMPLES;
  it.each([
    ['telemetry.FeedbackEvent', { ...S['telemetry.FeedbackEvent'].v1, queue_size: -1 }],
    ['telemetry.FeedbackEvent', { ...S['telemetry.FeedbackEvent'].v1, capacity: 0 }],
    ['telemetry.FeedbackEvent', { ...S['telemetry.FeedbackEvent'].v1, level: 'medium' }],
    ['telemetry.FeedbackEvent', { ...S['telemetry.FeedbackEvent'].v1, queue_size: 1.5 }],
    ['telemetry.RateAdjustment', { ...S['telemetry.RateAdjustment'].v1, scale: 1.01 }],
    ['telemetry.RateAdjustment', { ...S['telemetry.RateAdjustment'].v1, ts: undefined }],
    ['control.ControlResult', { status: 'accepted' }],
    ['control.ControlResult', { status: 'rejected', detail: 'no' }],
    ['control.ControlResult', { status: 'ok', detail: 5 }],
    ['telemetry.AuditEnvelope', { ...S['telemetry.AuditEnvelope'].v1, action: 'set_scale' }],
    ['telemetry.AuditEnvelope', { ...S['telemetry.AuditEnvelope'].v1, result: 'ok' }],
    ['telemetry.AuditEnvelope', { ...S['telemetry.AuditEnvelope'].v1, result: { detail: 'x' } }],
    ['telemetry.HealthComponent', { name: 'db', state: 'ok' }],
    ['telemetry.HealthStatus', { ...S['telemetry.HealthStatus'].v1, components: [{ name: 'db' }] }],
    ['telemetry.HealthComponent', { name: 'db', state: 'healthy', details: { rows: 3 } }],
  ] as const)('%s %j', (schemaId, input) => {
    const value = clone(input) as Record<string, unknown>;
    expect(coreProblems(coreModelOf(schemaId), value)).not.toEqual([]);
    for (const track of SCHEMA_TRACKS) expect(decodePayload(schemaId, track, value).ok).toBe(false);
  });

  it('envelopes: key, hash, headers and track of the wrong kind', () => {
    const base = {
      id: 'a',
      ts: 1,
      meta: { schema_id: 'control.ControlResult' },
      payload: { status: 'ok' },
    };
    for (const bad of [
      { ...base, key: 5 },
      { ...base, meta: { ...base.meta, hash: 1 } },
      { ...base, meta: { ...base.meta, headers: { a: 1 } } },
      { ...base, meta: { ...base.meta, track: 'v3' } },
      { ...base, ts: undefined },
    ]) {
      const value = clone(bad);
      const core = [
        ...coreProblems('EventEnvelope', value),
        ...(typeof value.meta === 'object' ? coreProblems('EventMeta', value.meta) : []),
      ];
      expect(core).not.toEqual([]);
      expect(decodeEnvelope(value).ok).toBe(false);
    }
  });
});

/** Where mdp is stricter than the core, on purpose: each case is listed in the README with the reason. */
describe('documented strictness differences (the core accepts, mdp rejects)', () => {
  const S = SAMPLES;
  it.each([
    [
      'telemetry.FeedbackEvent',
      'FeedbackEvent',
      { ...S['telemetry.FeedbackEvent'].v1, coordinator_id: '' },
    ],
    [
      'telemetry.RateAdjustment',
      'RateAdjustment',
      { ...S['telemetry.RateAdjustment'].v1, provider: '' },
    ],
    ['telemetry.AuditEnvelope', 'AuditEnvelope', { ...S['telemetry.AuditEnvelope'].v1, actor: '' }],
    ['telemetry.AuditEnvelope', 'AuditEnvelope', { ...S['telemetry.AuditEnvelope'].v1, role: '' }],
    ['telemetry.FeedbackEvent', 'FeedbackEvent', { ...S['telemetry.FeedbackEvent'].v1, ts: -1 }],
    ['telemetry.HealthStatus', 'HealthStatus', { ...S['telemetry.HealthStatus'].v1, ts: -0.5 }],
  ] as const)('%s %j', (schemaId, model, input) => {
    expect(coreProblems(model, clone(input))).toEqual([]);
    for (const track of SCHEMA_TRACKS) expect(decodePayload(schemaId, track, input).ok).toBe(false);
  });

  it('envelope: an empty id or schema id, a negative ts', () => {
    const base = {
      id: 'a',
      ts: 1,
      meta: { schema_id: 'control.ControlResult' },
      payload: { status: 'ok' },
    };
    for (const v of [
      { ...base, id: '' },
      { ...base, ts: -1 },
      { ...base, meta: { schema_id: '' } },
    ]) {
      expect(coreProblems('EventEnvelope', v)).toEqual([]);
      expect(decodeEnvelope(v).ok).toBe(false);
    }
  });
});

describe('pydantic lax coercion is not copied (README: stricter points)', () => {
  it.each([
    ['telemetry.FeedbackEvent', { ...SAMPLES['telemetry.FeedbackEvent'].v1, queue_size: '80' }],
    ['telemetry.RateAdjustment', { ...SAMPLES['telemetry.RateAdjustment'].v1, scale: '0.5' }],
    ['telemetry.HealthStatus', { ...SAMPLES['telemetry.HealthStatus'].v1, ts: '1729234567.5' }],
  ] as const)('%s %j is rejected on both tracks', (schemaId, input) => {
    for (const track of SCHEMA_TRACKS) expect(decodePayload(schemaId, track, input).ok).toBe(false);
  });
});
