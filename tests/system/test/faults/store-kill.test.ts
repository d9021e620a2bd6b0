/**
 * kill -9 of the store in the middle of a run: whatever it had read and not acked stays pending on
 * the stream; the restarted store (same consumer name) takes it back. Every bar persisted once;
 * nothing lost. Rows re-handled after the kill are expected (the consumer died holding them) and
 * reported, not asserted.
 */
import Redis from 'ioredis';
import { delay, describeWithServices, redisUrl } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
} from '../support/system';

const BARS = 8_000;
const RATE = 2_000;

describeWithServices('kill -9 of the store mid-run', () => {
  let redis: Redis;
  let sys: SystemUnderTest | undefined;
  beforeAll(() => {
    redis = new Redis(redisUrl());
  });
  afterEach(async () => {
    await sys?.close(redis);
    sys = undefined;
  });
  afterAll(() => redis.disconnect());

  it('restarts and persists every bar exactly once', async () => {
    sys = await SystemUnderTest.create(redisUrl());
    const s = sys;
    const storeEnv = { ...s.sharedEnv('v1'), ...SMALL_STORE };
    const store = await s.start('store', storeEnv);
    await store.waitReady();
    const pipeline = await s.start('pipeline', {
      ...s.sharedEnv('v1'),
      ...syntheticPipeline(BARS, RATE),
    });
    await pipeline.waitReady();

    await s.waitPersisted(BARS / 4, 30_000, () => store.output());
    store.kill('SIGKILL');
    expect((await store.exited).signal).toBe('SIGKILL');
    await delay(1000);
    const restarted = await s.start('store', storeEnv, 'store-restarted');
    await restarted.waitReady();
    await s.waitPersisted(BARS, 60_000, () =>
      [restarted.output(20), pipeline.output(10)].join('\n'),
    );
    await s.metrics.scrapeAll();

    const published = await s.published(redis);
    const persisted = await s.persisted();
    const lost = lostKeys(published.keys, persisted.keys);
    report('store kill -9', {
      published: published.keys.size,
      persisted: persisted.keys.size,
      handledTwice: Math.max(0, s.metrics.total(SUBMITTED) - published.entries),
      deadLettered: await s.dlqLength(redis),
      lost: lost.length,
      maxRssMb: s.metrics.maxRssMb,
    });
    expect(published.keys.size).toBe(BARS);
    expect(lost).toEqual([]);
    expect(persisted.rows).toBe(BARS);
    expect(await s.dlqLength(redis)).toBe(0);
    expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
  });
});
