/**
 * SIGTERM of the store while its queue is full: it stops reading, drains what it holds, and exits 0
 * with nothing of its own left pending on the stream; restarted, it goes on. The consumer shut down
 * cleanly, so nothing may be handled twice.
 */
import Redis from 'ioredis';
import { describeWithServices, redisUrl } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
} from '../support/system';

const BARS = 6_000;
const RATE = 2_000;

describeWithServices('SIGTERM of the store under load', () => {
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

  it('drains, leaves nothing pending, and the restarted store writes the rest once', async () => {
    sys = await SystemUnderTest.create(redisUrl());
    const s = sys;
    // Slow enough that the queue is full when SIGTERM arrives, fast enough to drain it (2 000 rows)
    // well within the default 10 s drain timeout.
    const storeEnv = {
      ...s.sharedEnv('v1'),
      ...SMALL_STORE,
      MDS_FAULT_SINK_MAX_ROWS_PER_SEC: '1000',
    };
    const store = await s.start('store', storeEnv);
    await store.waitReady();
    const pipeline = await s.start('pipeline', {
      ...s.sharedEnv('v1'),
      ...syntheticPipeline(BARS, RATE),
    });
    await pipeline.waitReady();

    await s.waitPersisted(BARS / 4, 30_000, () => store.output());
    store.kill('SIGTERM');
    const exit = await store.exited;
    const [pendingAfterExit] = (await redis.xpending(s.barsStream, 'store')) as [number];
    const restarted = await s.start(
      'store',
      { ...storeEnv, MDS_FAULT_SINK_MAX_ROWS_PER_SEC: undefined },
      'store-restarted',
    );
    await restarted.waitReady();
    await s.waitPersisted(BARS, 60_000, () =>
      [restarted.output(20), pipeline.output(10)].join('\n'),
    );
    await s.metrics.scrapeAll();

    const published = await s.published(redis);
    const persisted = await s.persisted();
    const lost = lostKeys(published.keys, persisted.keys);
    const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published.entries);
    report(
      'store SIGTERM',
      {
        published: published.keys.size,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered: await s.dlqLength(redis),
        lost: lost.length,
        maxRssMb: s.metrics.maxRssMb,
      },
      `pending_after_exit=${pendingAfterExit}`,
    );
    expect(exit).toEqual({ code: 0, signal: null });
    expect(published.keys.size).toBe(BARS);
    expect(lost).toEqual([]);
    expect(persisted.rows).toBe(BARS);
    expect(handledTwice).toBe(0);
    expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
    expect(pendingAfterExit).toBe(0);
  });
});
