/**
 * kill -9 of Redis (append-only file, fsync always) while bars flow, then Redis restarted on the
 * same port and data. Both services stay up: the store reports not ready during the outage; the
 * pipeline keeps unpublished batches and retries; afterwards every bar the pipeline published is
 * in bars_ohlcv once, and the store (alive throughout) handled none twice.
 */
import { delay, describeWithPostgres, RedisServer, sumMetric } from '@mdp/testing';
import { expectEveryBarOnce, report, sampleWhile, useSystem, warnings } from '../support/system';

const BARS = 8_000;
const RATE = 2_000;

describeWithPostgres('kill -9 of Redis (AOF) and restart', () => {
  const newSystem = useSystem();

  it('loses nothing and handles nothing twice', async () => {
    const server = await RedisServer.start({ appendOnly: true });
    const s = await newSystem(server.url);
    const { store, pipeline } = await s.startStoreAndPipeline({
      bars: BARS,
      rate: RATE,
      pipeline: { PIPELINE_RETRY_MAX_MS: '2000' },
    });

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
    const outageWarnings = [
      warnings(store.linesSince(outageStart[0])),
      warnings(pipeline.linesSince(outageStart[1])),
    ];

    const o = await s.outcome();
    const pipelinePublished = sumMetric(
      await pipeline.endpoint.metrics(),
      'pipeline_published_records_total',
    );
    report(
      'redis kill -9 (AOF)',
      o.figures,
      `stream_entries=${o.published.entries} pipeline_published=${pipelinePublished} warn_lines=${outageWarnings.map((w) => w.length).join('/')}`,
    );
    expect(pipelinePublished).toBe(BARS);
    expectEveryBarOnce(o, BARS);
    expect(o.handledTwice).toBe(0);
    expect(o.deadLettered).toBe(0);
    expect(readyDuringOutage.slice(-3)).toEqual([503, 503, 503]);
    // The outage is in both services' logs, at warn or error.
    expect(outageWarnings.map((w) => w.length > 0)).toEqual([true, true]);
  });
});
