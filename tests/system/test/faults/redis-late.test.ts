/**
 * Redis down while the services start. Asked for EVENT_BUS_BACKEND=redis, a service must never run
 * on another bus: /ready answers 503 with the `bus` component unhealthy until Redis answers, then the
 * services connect, create their groups and work; every bar published once Redis is up is persisted.
 */
import Redis from 'ioredis';
import { delay, describeWithPostgres, RedisServer } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
} from '../support/system';

const BARS = 3_000;
const RATE = 1_000;

describeWithPostgres('Redis down while the services start', () => {
  let sys: SystemUnderTest | undefined;
  afterEach(async () => {
    await sys?.close();
    sys = undefined;
  });

  it('is not ready until Redis answers, then works', async () => {
    const server = await RedisServer.create();
    sys = await SystemUnderTest.create(server.url);
    const s = sys;
    const store = await s.start('store', { ...s.sharedEnv('v1'), ...SMALL_STORE });
    const pipeline = await s.start('pipeline', {
      ...s.sharedEnv('v1'),
      ...syntheticPipeline(BARS, RATE),
      PIPELINE_RETRY_MAX_MS: '2000',
    });

    // Both answer HTTP, and both say they are not ready, for as long as Redis is away.
    const logs = () => [store.output(10), pipeline.output(10)].join('\n');
    const answered = async (p: typeof store) => {
      for (let i = 0; i < 100 && (await p.endpoint.readyStatus()) === 0; i++) await delay(100);
      return p.endpoint.readyStatus();
    };
    expect([await answered(store), await answered(pipeline)]).toEqual([503, 503]);
    for (const p of [store, pipeline]) {
      const bus = (await p.endpoint.health()).body.components.find((c) => c.name === 'bus');
      expect({ service: p.name, bus: bus?.state }).toEqual({ service: p.name, bus: 'unhealthy' });
    }
    await delay(3000);
    expect([await store.endpoint.readyStatus(), await pipeline.endpoint.readyStatus()]).toEqual([
      503, 503,
    ]);
    expect([store.running, pipeline.running]).toEqual([true, true]);

    await server.start();
    await store.waitReady(30_000);
    await pipeline.waitReady(30_000);
    await s.waitPersisted(BARS, 60_000, logs);
    await s.metrics.scrapeAll();

    const redis = new Redis(server.url);
    try {
      const published = await s.published(redis);
      const persisted = await s.persisted();
      const lost = lostKeys(published.keys, persisted.keys);
      const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published.entries);
      report('redis down at start', {
        published: published.keys.size,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered: await s.dlqLength(redis),
        lost: lost.length,
        maxRssMb: s.metrics.maxRssMb,
      });
      expect(published.keys.size).toBe(BARS);
      expect(lost).toEqual([]);
      expect(persisted.rows).toBe(BARS);
      expect(handledTwice).toBe(0);
      expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
    } finally {
      redis.disconnect();
    }
  });
});
