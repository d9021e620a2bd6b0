import {
  decodeEnvelope,
  decodePayload,
  isSchemaId,
  lookupSchema,
  SCHEMA_IDS,
  SCHEMAS,
  ContractError,
  type PayloadOf,
} from '../src';
import { SAMPLES, SYSTEM_SCHEMA_IDS } from './samples';

describe('schema registry', () => {
  it('registers every schema id of SYSTEM.md on both tracks', () => {
    for (const id of SYSTEM_SCHEMA_IDS) {
      expect(isSchemaId(id)).toBe(true);
      for (const track of ['v1', 'v2']) expect(lookupSchema(id, track).ok).toBe(true);
    }
    expect(SCHEMA_IDS).toEqual(expect.arrayContaining(SYSTEM_SCHEMA_IDS));
  });

  it('types payloads by (schema id, track)', () => {
    const r = decodePayload<PayloadOf<'md.Bar', 'v2'>>('md.Bar', 'v2', SAMPLES['md.Bar'].v2);
    const trades: number | undefined = r.ok ? r.value.trades : undefined;
    expect(trades).toBe(17);
  });

  it('keeps v1 and v2 as distinct schema objects', () => {
    for (const id of SCHEMA_IDS) expect(SCHEMAS[id].v1).not.toBe(SCHEMAS[id].v2);
  });

  it('returns a typed unknown_schema error for an unknown id', () => {
    const r = lookupSchema('telemetry.Nope', 'v1');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(ContractError);
    expect(r.error.code).toBe('unknown_schema');
    expect(r.error.message).toBe('meta.schema_id: unknown schema id "telemetry.Nope"');
  });

  it('returns a typed unknown_track error for an unknown track', () => {
    const r = decodePayload('telemetry.FeedbackEvent', 'v3', SAMPLES['telemetry.FeedbackEvent'].v1);
    expect(!r.ok && r.error.code).toBe('unknown_track');
    expect(!r.ok && r.error.message).toBe('meta.track: unknown schema track "v3"');
  });

  it('does not treat Object.prototype keys as schema ids', () => {
    for (const id of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(isSchemaId(id)).toBe(false);
      const r = decodePayload(id, 'v1', {});
      expect(!r.ok && r.error.code).toBe('unknown_schema');
    }
  });

  it('never throws, whatever it is given', () => {
    const junk: unknown[] = [
      undefined,
      null,
      0,
      'x',
      [],
      {},
      { meta: null },
      { meta: { schema_id: 1 } },
      new Date(0),
      Symbol('s'),
    ];
    for (const data of junk) {
      expect(() => decodeEnvelope(data)).not.toThrow();
      expect(decodeEnvelope(data).ok).toBe(false);
      expect(() => decodePayload('md.Bar', 'v1', data)).not.toThrow();
      expect(() => decodePayload(String(data?.toString?.()), 'v9', data)).not.toThrow();
    }
  });
});

describe('decodeEnvelope', () => {
  const payload = SAMPLES['telemetry.FeedbackEvent'].v2;
  const env = {
    id: 'e1',
    key: 'bars-coord',
    ts: 1729234567.5,
    meta: { schema_id: 'telemetry.FeedbackEvent', track: 'v2', headers: { a: 'b' } },
    payload,
  };

  it('decodes payloads by (meta.schema_id, meta.track)', () => {
    const r = decodeEnvelope(env);
    expect(r.ok && r.value.payload).toEqual(payload);
    const asV1 = decodeEnvelope({ ...env, meta: { ...env.meta, track: 'v1' } });
    expect(asV1.ok && asV1.value.payload).not.toHaveProperty('utilization');
  });

  it('defaults headers to {} and ignores unknown envelope fields', () => {
    const r = decodeEnvelope({
      ...env,
      meta: { schema_id: env.meta.schema_id, track: 'v1' },
      extra: 1,
    });
    expect(r.ok && r.value.meta.headers).toEqual({});
    expect(r.ok && r.value).not.toHaveProperty('extra');
  });

  it('prefixes payload paths and keeps meta paths', () => {
    const bad = decodeEnvelope({ ...env, payload: { ...payload, capacity: 0 } });
    expect(!bad.ok && bad.error.message).toBe('payload.capacity: must be > 0');
    const unknown = decodeEnvelope({ ...env, meta: { ...env.meta, schema_id: 'x.Y' } });
    expect(!unknown.ok && unknown.error.message).toBe('meta.schema_id: unknown schema id "x.Y"');
  });

  it('rejects envelopes with a bad ts or headers with a path', () => {
    expect(decodeEnvelope({ ...env, ts: '2024-01-01T00:00:00Z' })).toMatchObject({
      ok: false,
      error: { message: 'ts: must be a number of epoch seconds' },
    });
    expect(decodeEnvelope({ ...env, meta: { ...env.meta, headers: { n: 1 } } })).toMatchObject({
      ok: false,
      error: { message: 'meta.headers.n: must be a string' },
    });
    const { id: _id, ...noId } = env;
    expect(decodeEnvelope(noId)).toMatchObject({
      ok: false,
      error: { message: 'id: is required' },
    });
  });
});
