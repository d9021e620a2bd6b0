/**
 * kill -9 of the pipeline mid-run and a restart: the restarted provider begins again at the current
 * time, so it republishes keys the first run already published. Those bars must be identical (a bar
 * is a function of seed, symbol, interval and ts), so the store's diff-aware upsert changes nothing:
 * `mds_rows_changed_total` (inserted or changed rows) equals the rows in the table.
 */
import { delay, describeWithServices, sumMetric, waitFor } from '@mdp/testing';
import { report, RSS_BOUND_MB, useSystem } from '../support/system';

const BARS = 4_000;
const RATE = 2_000;

describeWithServices('kill -9 of the pipeline and a restart', () => {
  const newSystem = useSystem();

  it('republishes identical bars: no row of the table is rewritten', async () => {
    const s = await newSystem();
    const { store, pipeline, pipelineEnv } = await s.startStoreAndPipeline({
      bars: BARS,
      rate: RATE,
    });

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
    await waitFor(() => s.barsSettled(), {
      timeoutMs: 30_000,
      what: 'the store to settle every entry',
      detail: () => store.output(10),
    });

    const o = await s.outcome();
    const changed = sumMetric(await store.endpoint.metrics(), 'mds_rows_changed_total', {
      sink: 'bars',
    });
    report(
      'pipeline kill -9 and restart',
      o.figures,
      `entries=${o.published.entries} rows_changed=${changed}`,
    );
    // The restart really did republish keys (otherwise this test would prove nothing).
    expect(o.published.entries).toBeGreaterThan(o.published.keys.size);
    expect(o.lost).toEqual([]);
    expect(o.persisted.rows).toBe(o.published.keys.size);
    expect(changed).toBe(o.persisted.rows);
    expect(o.handledTwice).toBe(0);
    expect(o.figures.maxRssMb).toBeLessThan(RSS_BOUND_MB);
  });
});
