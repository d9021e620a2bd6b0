import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodePayload,
  ENVELOPE_SCHEMA_ID,
  jsonSchemaDocuments,
  SCHEMA_IDS,
  SCHEMA_TRACKS,
  type JsonSchemaDocument,
} from '../src';
import { newAjv } from './ajv';
import { BAD_FEEDBACK_PATCHES, clone, SAMPLES } from './samples';

const SCHEMA_DIR = join(__dirname, '..', 'schemas');
const REGENERATE = 'run `pnpm --filter @mdp/contracts schemas` and commit the result';
const docs = jsonSchemaDocuments();
const byPath = new Map(docs.map((d) => [d.path, d]));

describe('checked-in JSON Schema files (drift check)', () => {
  it('exports every registered contract on both tracks, plus the envelope', () => {
    const expected = SCHEMA_TRACKS.flatMap((t) =>
      [...SCHEMA_IDS, ENVELOPE_SCHEMA_ID].map((id) => `${t}/${id}.json`),
    );
    expect(docs.map((d) => d.path).sort()).toEqual(expected.sort());
  });

  it.each(docs.map((d) => [d.path, d] as const))(
    'schemas/%s matches the code',
    (path, doc: JsonSchemaDocument) => {
      const file = join(SCHEMA_DIR, path);
      if (!existsSync(file)) throw new Error(`schemas/${path} is missing: ${REGENERATE}`);
      // Content and key order must match; whitespace may differ (a formatter may touch the files).
      const checkedIn = JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
      if (checkedIn !== JSON.stringify(doc.schema))
        throw new Error(`schemas/${path} drifted from the code: ${REGENERATE}`);
    },
  );

  it('has no stale files', () => {
    const onDisk = readdirSync(SCHEMA_DIR).flatMap((track) =>
      readdirSync(join(SCHEMA_DIR, track)).map((f) => `${track}/${f}`),
    );
    const stale = onDisk.filter((p) => !byPath.has(p));
    if (stale.length) throw new Error(`stale schema files ${stale.join(', ')}: ${REGENERATE}`);
  });

  it('is deterministic, with sorted keys at every depth', () => {
    expect(JSON.stringify(jsonSchemaDocuments())).toBe(JSON.stringify(docs));
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (v === null || typeof v !== 'object') return;
      const keys = Object.keys(v);
      expect(keys).toEqual([...keys].sort());
      Object.values(v).forEach(walk);
    };
    docs.forEach((d) => walk(d.schema));
  });

  it('never closes an object (unknown fields must stay readable)', () => {
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (v === null || typeof v !== 'object') return;
      expect((v as Record<string, unknown>).additionalProperties).not.toBe(false);
      Object.values(v).forEach(walk);
    };
    docs.forEach((d) => walk(d.schema));
  });
});

describe('exported JSON Schemas agree with the zod schemas on the samples', () => {
  const ajv = newAjv();
  const validator = (track: string, id: string) =>
    ajv.compile(byPath.get(`${track}/${id}.json`)!.schema);
  const cases = SCHEMA_IDS.flatMap((id) => SCHEMA_TRACKS.map((track) => [id, track] as const));

  it.each(cases)('%s %s: the sample and its decoded form validate', (id, track) => {
    const validate = validator(track, id);
    const decoded = decodePayload(id, track, SAMPLES[id][track]);
    expect(decoded.ok).toBe(true);
    for (const data of [clone(SAMPLES[id][track]), decoded.ok ? clone(decoded.value) : null]) {
      if (!validate(data)) throw new Error(`${id} ${track}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  it.each(SCHEMA_IDS)('%s: a v2 event validates against the v1 JSON Schema', (id) => {
    const validate = validator('v1', id);
    if (!validate(clone(SAMPLES[id].v2))) throw new Error(ajv.errorsText(validate.errors));
  });

  it('rejects what zod rejects for the bounded FeedbackEvent fields', () => {
    const validate = validator('v1', 'telemetry.FeedbackEvent');
    const base = SAMPLES['telemetry.FeedbackEvent'].v1;
    for (const patch of BAD_FEEDBACK_PATCHES) {
      expect(validate({ ...base, ...patch })).toBe(false);
    }
  });

  it('validates envelopes', () => {
    const validate = validator('v1', ENVELOPE_SCHEMA_ID);
    const env = JSON.parse(
      readFileSync(join(__dirname, 'fixtures/python-core-v1/feedback-envelope.json'), 'utf8'),
    );
    expect(validate(env)).toBe(true);
    expect(validate({ ...env, ts: 'yesterday' })).toBe(false);
  });
});
