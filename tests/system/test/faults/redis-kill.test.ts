/**
 * kill -9 of Redis (append-only file, fsync always) while bars flow, then Redis restarted on the
 * same port and data. Both services stay up: the store reports not ready during the outage; the
 * pipeline keeps unpublished batches and retries; afterwards every bar the pipeline published is
 * in bars_ohlcv once, and the store (alive throughout) handled none twice.
 */
import Redis from 'ioredis';
import { delay, describeWithPostgres, RedisServer, sumMetric } from '@mdp/testing';
import {
  lostKeys,
  report,
  RSS_BOUND_MB,
  sampleWhile,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
  warnings,
} from '../support/system';

const BARS = 8_000;
const RATE = 2_000;

describeWithPostgres('kill -9 of Redis (AOF) and restart', () => {
  let sys: SystemUnderTest | undefined;
  afterEach(async () => {
    await sys?.close();
    sys = undefined;
  });

  it('loses nothing and handles nothing twice', async () => {
    const server = await RedisServer.start({ appendOnly: true });
    sys = await SystemUnderTest.create(server.url);
    const s = sys;
    const store = await s.start('store', { ...s.sharedEnv('v1'), ...SMALL_STORE });
    await store.waitReady();
    const pipeline = await s.start('pipeline', {
      ...s.sharedEnv('v1'),
      ...syntheticPipeline(BARS, RATE),
      PIPELINE_RETRY_MAX_MS: '2000',
    });
    await pipeline.waitReady();

    await s.waitPersisted(BARS / 4, 30_000, () => store.output());
    const outageStart = [store.mark(), pipeline.mark()];
    await server.kill('SIGKILL');
    // The store is not ready while its bus is gone (checked after the data, so a failure shows both).
    const readiness = sampleWhile(() => store.endpoint.readyStatus());
    await delay(3000);
    const readyDuringOutage = await readiness.stop();
    await server.start();
    await store.waitReady(30_000);
    await s.waitPersisted(BARS, 60_000, () => [store.output(20), pipeline.output(20)].join('\n'));
    await s.metrics.scrapeAll();
    const outageWarnings = [
      warnings(store.linesSince(outageStart[0])),
      warnings(pipeline.linesSince(outageStart[1])),
    ];

    const redis = new Redis(server.url);
    try {
      const published = await s.published(redis);
      const persisted = await s.persisted();
      const lost = lostKeys(published.keys, persisted.keys);
      const pipelinePublished = sumMetric(
        await pipeline.endpoint.metrics(),
        'pipeline_published_records_total',
      );
      const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published.entries);
      report(
        'redis kill -9 (AOF)',
        {
          published: published.keys.size,
          persisted: persisted.keys.size,
          handledTwice,
          deadLettered: await s.dlqLength(redis),
          lost: lost.length,
          maxRssMb: s.metrics.maxRssMb,
        },
        `stream_entries=${published.entries} pipeline_published=${pipelinePublished} warn_lines=${outageWarnings.map((w) => w.length).join('/')}`,
      );
      expect(pipelinePublished).toBe(BARS);
      expect(published.keys.size).toBe(BARS);
      expect(lost).toEqual([]);
      expect(persisted.rows).toBe(BARS);
      expect(handledTwice).toBe(0);
      expect(await s.dlqLength(redis)).toBe(0);
      expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
      expect(readyDuringOutage.slice(-3)).toEqual([503, 503, 503]);
      // The outage is in both services' logs, at warn or error.
      expect(outageWarnings.map((w) => w.length > 0)).toEqual([true, true]);
    } finally {
      redis.disconnect();
    }
  });
});
