/**
 * kill -9 of the pipeline mid-run and a restart: the restarted provider begins again at the current
 * time, so it republishes keys the first run already published. Those bars must be identical (a bar
 * is a function of seed, symbol, interval and ts), so the store's diff-aware upsert changes nothing:
 * `mds_rows_changed_total` (inserted or changed rows) equals the rows in the table.
 */
import Redis from 'ioredis';
import { delay, describeWithServices, redisUrl, sumMetric, waitFor } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
} from '../support/system';

const BARS = 4_000;
const RATE = 2_000;

describeWithServices('kill -9 of the pipeline and a restart', () => {
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

  it('republishes identical bars: no row of the table is rewritten', async () => {
    sys = await SystemUnderTest.create(redisUrl());
    const s = sys;
    const store = await s.start('store', { ...s.sharedEnv('v1'), ...SMALL_STORE });
    await store.waitReady();
    const pipelineEnv = { ...s.sharedEnv('v1'), ...syntheticPipeline(BARS, RATE) };
    const pipeline = await s.start('pipeline', pipelineEnv);
    await pipeline.waitReady();

    await s.waitPersisted(BARS / 2, 30_000, () => store.output());
    pipeline.kill('SIGKILL');
    await pipeline.exited;
    // A second later: the restarted provider's first bars fall on keys the first run published.
    await delay(1000);
    const restarted = await s.start('pipeline', pipelineEnv, 'pipeline-restarted');
    await restarted.waitReady();
    await waitFor(
      async () => (await restarted.endpoint.metric('pipeline_published_records_total')) >= BARS,
      {
        timeoutMs: 30_000,
        what: 'the restarted pipeline to publish its bars',
        detail: () => restarted.output(10),
      },
    );
    await waitFor(() => s.barsSettled(redis), {
      timeoutMs: 30_000,
      what: 'the store to settle every entry',
      detail: () => store.output(10),
    });
    await s.metrics.scrapeAll();

    const published = await s.published(redis);
    const persisted = await s.persisted();
    const lost = lostKeys(published.keys, persisted.keys);
    const changed = sumMetric(await store.endpoint.metrics(), 'mds_rows_changed_total', {
      sink: 'bars',
    });
    const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published.entries);
    report(
      'pipeline kill -9 and restart',
      {
        published: published.keys.size,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered: await s.dlqLength(redis),
        lost: lost.length,
        maxRssMb: s.metrics.maxRssMb,
      },
      `entries=${published.entries} rows_changed=${changed}`,
    );
    // The restart really did republish keys (otherwise this test would prove nothing).
    expect(published.entries).toBeGreaterThan(published.keys.size);
    expect(lost).toEqual([]);
    expect(persisted.rows).toBe(published.keys.size);
    expect(changed).toBe(persisted.rows);
    expect(handledTwice).toBe(0);
    expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
  });
});
