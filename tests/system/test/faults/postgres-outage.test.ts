/**
 * PostgreSQL unreachable for 15 s (a TCP proxy in front of it drops every connection and refuses new
 * ones), while bars flow. The store holds what it cannot write (circuit open, queue full, `hard` to
 * the pipeline), reports not ready, and once the database is back writes everything within seconds.
 * The store stays alive throughout, so nothing may be handled twice.
 */
import Redis from 'ioredis';
import { delay, describeWithServices, redisUrl, TcpProxy, track, waitFor } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  warnings,
  SystemUnderTest,
} from '../support/system';

const BARS = 8_000;
const RATE = 1_000;
const OUTAGE_MS = 15_000;

describeWithServices('PostgreSQL unreachable for 15 s', () => {
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

  it('holds the rows, then writes every one of them once', async () => {
    sys = await SystemUnderTest.create(redisUrl());
    const s = sys;
    const target = new URL(s.schema.url);
    const proxy = track(new TcpProxy(target.hostname, Number(target.port || 5432)));
    await proxy.up();
    const store = await s.start('store', {
      ...s.sharedEnv('v1'),
      ...SMALL_STORE,
      DATABASE_URL: proxy.rewrite(s.schema.url),
    });
    await store.waitReady();
    const pipeline = await s.start('pipeline', {
      ...s.sharedEnv('v1'),
      ...syntheticPipeline(BARS, RATE),
    });
    await pipeline.waitReady();

    await s.waitPersisted(BARS / 5, 30_000, () => store.output());
    const outageStart = store.mark();
    await proxy.down();
    await waitFor(async () => (await store.endpoint.readyStatus()) === 503, {
      timeoutMs: OUTAGE_MS,
      what: 'store /ready 503 while PostgreSQL is unreachable',
      detail: () => store.output(10),
    });
    await delay(OUTAGE_MS);
    await proxy.up();
    const back = Date.now();
    await s.waitPersisted(BARS, 40_000, () => [store.output(20), pipeline.output(10)].join('\n'));
    const recoveredInS = ((Date.now() - back) / 1000).toFixed(1);
    const outageWarnings = warnings(store.linesSince(outageStart));
    await s.metrics.scrapeAll();

    const published = await s.published(redis);
    const persisted = await s.persisted();
    const lost = lostKeys(published.keys, persisted.keys);
    const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published.entries);
    report(
      'postgres unreachable 15 s',
      {
        published: published.keys.size,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered: await s.dlqLength(redis),
        lost: lost.length,
        maxRssMb: s.metrics.maxRssMb,
      },
      `all_written_${recoveredInS}s_after_recovery warn_lines=${outageWarnings.length}`,
    );
    expect(published.keys.size).toBe(BARS);
    expect(lost).toEqual([]);
    expect(persisted.rows).toBe(BARS);
    expect(handledTwice).toBe(0);
    expect(await s.dlqLength(redis)).toBe(0);
    expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
    // The outage is in the store's log (its start with the cause, at warn or error).
    expect(outageWarnings.length).toBeGreaterThanOrEqual(1);
  });
});
