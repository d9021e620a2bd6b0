import {
  decodePayload,
  jsonSchemaDocuments,
  SCHEMA_IDS,
  SCHEMA_TRACKS,
  type DecodeResult,
} from '../src';
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

describe('v2 only adds optional fields (rule 1), checked on the exported JSON Schemas', () => {
  type Node = Record<string, unknown>;
  const schemaOf = (track: string, id: string) =>
    jsonSchemaDocuments().find((d) => d.path === `${track}/${id}.json`)!.schema;

  /** Problems that make `v2` not a pure optional extension of `v1`, with their JSON pointer-ish path. */
  function extensionProblems(v1: unknown, v2: unknown, at: string): string[] {
    if (!isNode(v1) || !isNode(v2))
      return JSON.stringify(v1) === JSON.stringify(v2) ? [] : [`${at}: changed`];
    const problems: string[] = [];
    if (JSON.stringify(v1.required ?? []) !== JSON.stringify(v2.required ?? []))
      problems.push(`${at}: required set changed`);
    for (const key of new Set([...Object.keys(v1), ...Object.keys(v2)])) {
      if (['description', 'required', 'x-track'].includes(key)) continue;
      if (key === 'properties') {
        const p1 = v1.properties as Node;
        const p2 = v2.properties as Node;
        for (const name of Object.keys(p1)) {
          if (!(name in p2)) problems.push(`${at}.${name}: removed`);
          else problems.push(...extensionProblems(p1[name], p2[name], `${at}.${name}`));
        }
      } else {
        problems.push(...extensionProblems(v1[key], v2[key], `${at}/${key}`));
      }
    }
    return problems;
  }
  const isNode = (v: unknown): v is Node =>
    v !== null && typeof v === 'object' && !Array.isArray(v);

  it.each(SCHEMA_IDS)('%s', (id) => {
    expect(extensionProblems(schemaOf('v1', id), schemaOf('v2', id), id)).toEqual([]);
  });

  it('the check notices a field made required or retyped', () => {
    const v1 = { type: 'object', properties: { a: { type: 'string' } }, required: [] };
    expect(extensionProblems(v1, { ...v1, required: ['a'] }, 'x')).toEqual([
      'x: required set changed',
    ]);
    expect(extensionProblems(v1, { ...v1, properties: { a: { type: 'number' } } }, 'x')).toEqual([
      'x.a/type: changed',
    ]);
    expect(
      extensionProblems(
        v1,
        { ...v1, properties: { a: { type: 'string' }, b: { type: 'string' } } },
        'x',
      ),
    ).toEqual([]);
  });
});
