/**
 * The `core` wire layout: entries as the Python market-data-core's RedisStreamsBus writes and reads
 * them (key `<ns>:<ns>.<stream>`, one field `data`, no id in the JSON, class-path schema ids, the
 * store's nested envelope), decoded from the golden bodies and over real Redis with raw XADD.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEnvelope, FeedbackEvent } from '@mdp/contracts';
import { describeWithRedis } from '@mdp/testing';
import {
  coreStream,
  createEnvelope,
  createEventBus,
  decodeCoreEntry,
  encodeCoreEntry,
} from '../src';
import { waitFor } from './helpers';
import { redisBed } from './redis-bed';

const BODIES = join(__dirname, '../../contracts/test/fixtures/core-1.4.61/bodies');
const body = (file: string): string => readFileSync(join(BODIES, file), 'utf8');

const feedback = (over: Partial<FeedbackEvent> = {}): FeedbackEvent => ({
  coordinator_id: 'bars-coord',
  queue_size: 80,
  capacity: 100,
  level: 'soft',
  source: 'store',
  ts: 1729234567.123,
  ...over,
});

describe('core layout entries', () => {
  it.each(readdirSync(BODIES))(
    'decodes the golden body %s with the entry id as envelope id',
    (file) => {
      const r = decodeCoreEntry<FeedbackEvent>(['data', body(file)], '1729234567125-3');
      if (!r.ok) throw new Error(r.reason);
      expect(r.envelope.id).toBe('1729234567125-3');
      expect(r.envelope.meta.schema_id).toMatch(/^telemetry\.(FeedbackEvent|RateAdjustment)$/);
      if (file.startsWith('store-publish')) {
        // The store's publisher nests its envelope: what is delivered is the inner one.
        expect(r.envelope).toMatchObject({
          key: 'bars-coord',
          ts: 1729234567.123,
          meta: { schema_id: 'telemetry.FeedbackEvent', headers: { utilization: '0.950000' } },
          payload: { level: 'hard', queue_size: 95 },
        });
      }
    },
  );

  it('writes one field, data, holding the envelope without its id', () => {
    const env = createEnvelope('telemetry.FeedbackEvent', feedback(), { key: 'bars-coord' });
    const fields = encodeCoreEntry(env);
    expect(fields).toHaveLength(2);
    expect(fields[0]).toBe('data');
    expect(JSON.parse(fields[1])).toEqual({
      ts: env.ts,
      key: 'bars-coord',
      meta: { schema_id: 'telemetry.FeedbackEvent', track: 'v1', headers: {}, hash: null },
      payload: feedback(),
    });
    const back = decodeCoreEntry(fields, '5-0');
    expect(back).toEqual({
      ok: true,
      envelope: { ...env, id: '5-0', meta: { ...env.meta, hash: null } },
    });
  });

  it('gives readable reasons for what it cannot read', () => {
    const cases: [string[], RegExp][] = [
      [['envelope', '{}'], /^no envelope: entry has no "data" field \(core layout\)$/],
      [['data', '{nope'], /^envelope is not valid JSON/],
      [['data', '[]'], /^no envelope: the data field is not a JSON object$/],
      [
        [
          'data',
          JSON.stringify({
            ts: 1,
            meta: { schema_id: 'events.envelope.EventEnvelope' },
            payload: 'x',
          }),
        ],
        /^schema: payload: events\.envelope\.EventEnvelope must carry an envelope$/,
      ],
      [
        [
          'data',
          JSON.stringify({
            ts: 1,
            meta: { schema_id: 'telemetry.backpressure.FeedbackEvent' },
            payload: { ...feedback(), capacity: 0 },
          }),
        ],
        /^schema: payload\.capacity: must be > 0$/,
      ],
      [
        [
          'data',
          JSON.stringify({ ts: 1, meta: { schema_id: 'telemetry.other.Thing' }, payload: {} }),
        ],
        /^unknown_schema: meta\.schema_id: unknown schema id "telemetry\.other\.Thing"$/,
      ],
    ];
    for (const [fields, reason] of cases) {
      const r = decodeCoreEntry(fields, '1-0');
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
  });

  it('with a token, checks the signature of the data object as written', () => {
    const env = createEnvelope('telemetry.FeedbackEvent', feedback(), { key: 'k' });
    const signed = encodeCoreEntry(env, 't0k');
    expect(decodeCoreEntry(signed, '1-0', 't0k').ok).toBe(true);
    expect(decodeCoreEntry(signed, '1-0', 'other')).toMatchObject({
      ok: false,
      reason: /^bad signature/,
    });
    expect(
      decodeCoreEntry(['data', body('core-publish.FeedbackEvent.v1.json')], '1-0', 't0k'),
    ).toMatchObject({
      ok: false,
      reason: /^missing signature/,
    });
  });
});

describe('core layout on the in-memory bus', () => {
  it('a bus publishing in the core layout is read by a core subscription, not by an mdp one', async () => {
    const b = createEventBus({ backend: 'inmem', namespace: 'mem', wire: 'core' });
    const got: EventEnvelope[] = [];
    const sub = b.subscribe(
      { stream: 'telemetry.feedback', group: 'g', consumer: 'c', blockMs: 10 },
      (e) => void got.push(e),
    );
    const entryId = await b.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback()),
    );
    expect(b.physicalStreams('telemetry.feedback')).toEqual(['mem:mem.telemetry.feedback']);
    expect(b.physicalStreams('telemetry.feedback', 'mdp')).toEqual(['mem.telemetry.feedback']);
    await waitFor(() => got.length === 1, 'core delivery');
    expect(got[0].id).toBe(entryId);
    await sub.close();
    await b.close();
  });
});

describeWithRedis('core layout over Redis', () => {
  const bed = redisBed('pcore');
  const bus = bed.bus;

  it('reads entries XADDed as the core writes them: colon key, data field, no id, class path, nested envelope', async () => {
    const key = `${bed.ns}:${bed.ns}.telemetry.feedback`;
    expect(coreStream(bed.ns, 'telemetry.feedback')).toBe(key);
    const ids = [
      (await bed.raw.xadd(key, '*', 'data', body('core-publish.FeedbackEvent.v1.json'))) as string,
      (await bed.raw.xadd(key, '*', 'data', body('store-publish.FeedbackEvent.v2.json'))) as string,
      (await bed.raw.xadd(
        key,
        '*',
        'data',
        '{"ts": 1, "meta": {"schema_id": "telemetry.backpressure.FeedbackEvent"}, "payload": {}}',
      )) as string,
    ];
    const b = bus();
    const got: EventEnvelope<FeedbackEvent>[] = [];
    const sub = b.subscribe<FeedbackEvent>(
      {
        stream: 'telemetry.feedback',
        wire: 'core',
        group: 'pipeline',
        consumer: 'p1',
        blockMs: 20,
      },
      (e) => void got.push(e),
    );
    await waitFor(() => got.length === 2, 'two core entries delivered');
    await waitFor(
      async () => (await bed.raw.xlen(`${key}.dlq`)) === 1,
      'the junk entry dead-lettered',
    );
    expect(got.map((e) => [e.id, e.meta.schema_id, e.meta.track, e.payload.level])).toEqual([
      [ids[0], 'telemetry.FeedbackEvent', 'v1', 'soft'],
      [ids[1], 'telemetry.FeedbackEvent', 'v2', 'hard'],
    ]);
    const [dl] = await b.readDeadLetters('telemetry.feedback', { wire: 'core' });
    expect(dl).toMatchObject({
      sourceStream: key,
      sourceEntryId: ids[2],
      reason: /^poison: schema: payload\.coordinator_id: is required/,
    });
    expect(await bed.raw.exists(`${bed.ns}.telemetry.feedback`)).toBe(0);
    await sub.close();
  });

  it('publishes per call in the core layout, which a plain XREADGROUP reader parses as the core does', async () => {
    const b = bus();
    const env = createEnvelope('telemetry.FeedbackEvent', feedback(), {
      key: 'bars-coord',
      track: 'v2',
    });
    const entryId = await b.publish('telemetry.feedback', env, { wire: 'core' });
    await b.publish('telemetry.feedback', createEnvelope('telemetry.FeedbackEvent', feedback()));
    const key = `${bed.ns}:${bed.ns}.telemetry.feedback`;
    const [[id, fields]] = (await bed.raw.xrange(key, '-', '+')) as [string, string[]][];
    expect(id).toBe(entryId);
    expect(fields[0]).toBe('data');
    expect(fields).toHaveLength(2);
    const data = JSON.parse(fields[1]);
    expect(data).not.toHaveProperty('id');
    // The core's reader: EventMeta from meta, its model map resolves `telemetry.FeedbackEvent`.
    expect(data.meta).toEqual({
      schema_id: 'telemetry.FeedbackEvent',
      track: 'v2',
      headers: {},
      hash: null,
    });
    expect(data.payload).toEqual(feedback());
    expect(await bed.raw.xlen(`${bed.ns}.telemetry.feedback`)).toBe(1);
  });
});
