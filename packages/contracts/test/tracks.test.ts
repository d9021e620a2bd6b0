import { decodePayload, SCHEMA_IDS, SCHEMA_TRACKS, type DecodeResult } from '../src';
import { clone, SAMPLES } from './samples';

function valueOf<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw new Error(`expected a valid payload, got: ${r.error.message}`);
  return r.value;
}

const cases = SCHEMA_IDS.flatMap((id) => SCHEMA_TRACKS.map((track) => [id, track] as const));

describe('every schema id and track', () => {
  it('has samples for every registered id', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...SCHEMA_IDS].sort());
  });

  it.each(cases)('%s %s round-trips through JSON unchanged', (id, track) => {
    const decoded = valueOf(decodePayload(id, track, SAMPLES[id][track]));
    const wire = JSON.stringify(decoded);
    const again = valueOf(decodePayload(id, track, JSON.parse(wire)));
    expect(again).toEqual(decoded);
    expect(JSON.stringify(again)).toBe(wire);
    // Nothing the producer sent is lost on its own track.
    expect(decoded).toEqual(expect.objectContaining(clone(SAMPLES[id][track])));
  });

  it.each(cases)('%s %s ignores unknown extra fields', (id, track) => {
    const decoded = valueOf(
      decodePayload(id, track, { ...SAMPLES[id][track], zz_future_field: { any: 'thing' } }),
    );
    expect(decoded).not.toHaveProperty('zz_future_field');
    expect(decoded).toEqual(valueOf(decodePayload(id, track, SAMPLES[id][track])));
  });
});

describe('v1 <-> v2 compatibility', () => {
  it.each(SCHEMA_IDS)('%s: a v1 consumer reads a v2 event and sees exactly the v1 fields', (id) => {
    const v2event = JSON.parse(JSON.stringify(SAMPLES[id].v2));
    const readByV1 = valueOf(decodePayload(id, 'v1', v2event));
    expect(readByV1).toEqual(valueOf(decodePayload(id, 'v1', SAMPLES[id].v1)));
  });

  it.each(SCHEMA_IDS)('%s: a v2 consumer reads a v1 event unchanged', (id) => {
    const v1event = JSON.parse(JSON.stringify(SAMPLES[id].v1));
    const readByV2 = valueOf(decodePayload(id, 'v2', v1event));
    expect(readByV2).toEqual(valueOf(decodePayload(id, 'v1', v1event)));
  });

  it.each(SCHEMA_IDS)('%s: a v2 event keeps its v2 fields for a v2 consumer', (id) => {
    const readByV2 = valueOf(decodePayload(id, 'v2', SAMPLES[id].v2));
    expect(readByV2).toEqual(expect.objectContaining(clone(SAMPLES[id].v2)));
  });
});
