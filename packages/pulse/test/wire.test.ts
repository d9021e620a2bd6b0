import { decodeEnvelope } from '@mdp/contracts';
import { createEnvelope } from '../src';
import {
  decodeEntry,
  dlqFields,
  encodeEntry,
  fieldsToObject,
  quickEnvelope,
} from '../src/wire/wire';

const bar = {
  provider: 'ibkr',
  symbol: 'AAPL',
  interval: '1m',
  ts: 1_700_000_000,
  open: 100,
  high: 101,
  low: 99,
  close: 100.5,
  volume: 10,
};
const valid = createEnvelope('md.Bar', bar, { key: 'AAPL', headers: { trace: 'abc' } });

/** Inputs the quick path must decode exactly as the contract does, or leave to the contract. */
const cases: Record<string, unknown> = {
  valid,
  'valid v2 with extra payload keys': {
    ...valid,
    meta: { ...valid.meta, track: 'v2' },
    payload: { ...bar, trades: 3, vwap: 100.2, extra: 1 },
  },
  'no headers (defaults to {})': { ...valid, meta: { schema_id: 'md.Bar', track: 'v1' } },
  'unknown envelope and meta keys (stripped)': {
    ...valid,
    sig: 'x',
    meta: { ...valid.meta, other: 1 },
  },
  'numeric and constructor header keys': {
    ...valid,
    meta: { ...valid.meta, headers: { '2': 'b', constructor: 'c', '1': 'a' } },
  },
  '__proto__ header key': JSON.parse(
    `{"id":"a","key":"","ts":1,"meta":{"schema_id":"md.Bar","track":"v1","headers":{"__proto__":"x","a":"b"}},"payload":${JSON.stringify(bar)}}`,
  ),
  'ts zero': { ...valid, ts: 0 },
  'negative ts': { ...valid, ts: -1 },
  'ts as string': { ...valid, ts: '1' },
  'empty id': { ...valid, id: '' },
  'missing key': { ...valid, key: undefined },
  'key not a string': { ...valid, key: 5 },
  'meta an array': { ...valid, meta: [] },
  'meta null': { ...valid, meta: null },
  'empty schema_id': { ...valid, meta: { ...valid.meta, schema_id: '' } },
  'unknown schema': { ...valid, meta: { ...valid.meta, schema_id: 'md.Nope' } },
  'unknown track': { ...valid, meta: { ...valid.meta, track: 'v9' } },
  'header value not a string': { ...valid, meta: { ...valid.meta, headers: { a: 1 } } },
  'headers an array': { ...valid, meta: { ...valid.meta, headers: ['a'] } },
  'headers null': { ...valid, meta: { ...valid.meta, headers: null } },
  'payload invalid': { ...valid, payload: { ...bar, high: 1 } },
  'payload missing': { ...valid, payload: undefined },
  'payload a string': { ...valid, payload: 'bar' },
};

describe('envelope decoding fast path', () => {
  it.each(Object.entries(cases))(
    '%s: same result as the contract decodeEnvelope',
    (_name, input) => {
      const contract = decodeEnvelope(input);
      const quick = quickEnvelope(input);
      if (quick) {
        expect(contract.ok).toBe(true);
        expect(quick).toStrictEqual(contract.ok && contract.value);
        expect(Object.keys(quick)).toEqual(Object.keys(contract.ok ? contract.value : {}));
        expect(Object.keys(quick.meta)).toEqual(
          Object.keys(contract.ok ? contract.value.meta : {}),
        );
      }
      // Through the entry decoder (JSON round trip): the contract's value or its error, either way.
      const decoded = decodeEntry(['id', 'x', 'envelope', JSON.stringify(input)]);
      if (contract.ok)
        expect(decoded).toEqual({ ok: true, envelope: JSON.parse(JSON.stringify(contract.value)) });
      else expect(decoded.ok).toBe(false);
    },
  );

  it('takes the quick path for everyday envelopes and leaves every invalid one to the contract', () => {
    expect(quickEnvelope(valid)).toBeDefined();
    for (const [name, input] of Object.entries(cases)) {
      if (!decodeEnvelope(input).ok)
        expect([name, quickEnvelope(input)]).toEqual([name, undefined]);
    }
  });

  it('reports the contract error of an invalid entry, with the hint id and track of the entry fields', () => {
    const fields = encodeEntry({ ...valid, payload: { ...bar, high: 1 } });
    expect(decodeEntry(fields)).toEqual({
      ok: false,
      reason: 'schema: payload.high: must be >= max(open, close)',
      envelopeId: valid.id,
      track: 'v1',
    });
    expect(decodeEntry(['id', 'x1', 'track', 'v2', 'envelope', '{'])).toMatchObject({
      ok: false,
      envelopeId: 'x1',
      track: 'v2',
    });
    expect(decodeEntry(['envelope', '[]', 'id', 'x2'])).toMatchObject({
      ok: false,
      reason: 'no envelope: the envelope field is not a JSON object',
      envelopeId: 'x2',
    });
  });
});

describe('dead-letter fields', () => {
  it('store the envelope once: verbatim in `envelope`, and `raw` holds the other original fields', () => {
    const env = createEnvelope('md.Bar', bar);
    const fields = encodeEntry(env);
    const dl = fieldsToObject(
      dlqFields({
        sourceStream: 's',
        sourceEntryId: '1-0',
        group: 'g',
        consumer: 'c',
        reason: 'r',
        attempts: 1,
        fields,
        failedAt: 0,
      }),
    );
    expect(dl.envelope).toBe(fields[7]);
    const raw = JSON.parse(dl.raw);
    expect(raw).toEqual({ id: env.id, schema_id: 'md.Bar', track: 'v1' });
    expect(JSON.stringify(dl).split(env.id).length - 1).toBeLessThanOrEqual(3); // id, raw.id, inside envelope once
  });
});
