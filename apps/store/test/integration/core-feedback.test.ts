/**
 * The store's feedback publisher with PULSE_WIRE=core, over real Redis: the entries it writes are the
 * Python market-data-core's layout, which both the core's own reader (its model rules) and a pulse
 * subscription in the core layout (what the pipeline runs with PULSE_WIRE=core) parse.
 */
import Redis from 'ioredis';
import type { EventEnvelope, FeedbackEvent } from '@mdp/contracts';
import { createEventBus, type PulseBus } from '@mdp/pulse';
import { deleteRedisPrefix, describeWithRedis, redisUrl, uniqueId } from '@mdp/testing';
import { pulseFeedbackPublisher } from '../../src/feedback/pulse-feedback-publisher';
import { coreProblems } from '../../../../packages/contracts/test/core-rules';

const event = (
  level: FeedbackEvent['level'],
  extra: Partial<FeedbackEvent> = {},
): FeedbackEvent => ({
  coordinator_id: 'bars-coord',
  queue_size: 95,
  capacity: 100,
  level,
  source: 'store',
  ts: 1_700_000_000.5,
  ...extra,
});

/** What the core's RedisStreamsBus.subscribe resolves by name (its `_MODEL_MAP`). */
const CORE_READER_MODELS: Record<string, string> = {
  'telemetry.FeedbackEvent': 'FeedbackEvent',
  'telemetry.RateAdjustment': 'RateAdjustment',
};

describeWithRedis('store feedback publisher in the core layout', () => {
  let raw: Redis;
  let ns: string;
  let bus: PulseBus;

  beforeAll(() => {
    raw = new Redis(redisUrl());
  });
  afterAll(async () => {
    await raw.quit();
  });
  beforeEach(() => {
    ns = uniqueId('storecore');
    bus = createEventBus({ backend: 'redis', redisUrl: redisUrl(), namespace: ns, clientName: ns });
  });
  afterEach(async () => {
    await bus.close();
    await deleteRedisPrefix(raw, ns);
  });

  it('writes <ns>:<ns>.telemetry.feedback entries the core reader and a core-layout subscription parse', async () => {
    await pulseFeedbackPublisher(bus, 'v1', 'core')(event('hard'));
    await pulseFeedbackPublisher(
      bus,
      'v2',
      'core',
    )(event('ok', { queue_size: 10, reason: 'queue_recovered', utilization: 0.1 }));

    const key = `${ns}:${ns}.telemetry.feedback`;
    const entries = (await raw.xrange(key, '-', '+')) as [string, string[]][];
    expect(entries).toHaveLength(2);
    expect(await raw.exists(`${ns}.telemetry.feedback`)).toBe(0);
    for (const [, fields] of entries) {
      // The core reads `fields.get("data")`, EventMeta from meta, the model by meta.schema_id, then the payload.
      expect(fields).toHaveLength(2);
      expect(fields[0]).toBe('data');
      const data = JSON.parse(fields[1]);
      expect(data).not.toHaveProperty('id');
      expect(coreProblems('EventEnvelope', { id: '', ...data })).toEqual([]);
      expect(coreProblems('EventMeta', data.meta)).toEqual([]);
      const model = CORE_READER_MODELS[data.meta.schema_id];
      expect(model).toBe('FeedbackEvent');
      expect(coreProblems(model, data.payload)).toEqual([]);
      expect(data.key).toBe('bars-coord');
    }

    const got: EventEnvelope<FeedbackEvent>[] = [];
    const sub = bus.subscribe<FeedbackEvent>(
      { stream: 'telemetry.feedback', wire: 'core', group: 'pipeline', consumer: 'p', blockMs: 20 },
      (e) => void got.push(e),
    );
    const deadline = Date.now() + 10_000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.close();
    expect(got.map((e) => [e.id, e.meta.track, e.payload.level, e.meta.headers.reason])).toEqual([
      [entries[0][0], 'v1', 'hard', undefined],
      [entries[1][0], 'v2', 'ok', 'queue_recovered'],
    ]);
    expect(got[1].payload).toMatchObject({ utilization: 0.1, reason: 'queue_recovered' });
  });
});
