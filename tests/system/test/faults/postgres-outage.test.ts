/**
 * PostgreSQL unreachable for 15 s (a TCP proxy in front of it drops every connection and refuses new
 * ones), while bars flow. The store holds what it cannot write (circuit open, queue full, `hard` to
 * the pipeline), reports not ready, and once the database is back writes everything within seconds.
 * The store stays alive throughout, so nothing may be handled twice.
 */
import { delay, describeWithServices, TcpProxy, track, waitFor } from '@mdp/testing';
import { expectEveryBarOnce, report, useSystem, warnings } from '../support/system';

const BARS = 8_000;
const RATE = 1_000;
const OUTAGE_MS = 15_000;

describeWithServices('PostgreSQL unreachable for 15 s', () => {
  const newSystem = useSystem();

  it('holds the rows, then writes every one of them once', async () => {
    const s = await newSystem();
    const target = new URL(s.schema.url);
    const proxy = track(new TcpProxy(target.hostname, Number(target.port || 5432)));
    await proxy.up();
    const { store, pipeline } = await s.startStoreAndPipeline({
      bars: BARS,
      rate: RATE,
      store: { DATABASE_URL: proxy.rewrite(s.schema.url) },
    });

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

    const o = await s.outcome();
    report(
      'postgres unreachable 15 s',
      o.figures,
      `all_written_${recoveredInS}s_after_recovery warn_lines=${outageWarnings.length}`,
    );
    expectEveryBarOnce(o, BARS);
    expect(o.handledTwice).toBe(0);
    expect(o.deadLettered).toBe(0);
    // The outage is in the store's log (its start with the cause, at warn or error).
    expect(outageWarnings.length).toBeGreaterThanOrEqual(1);
  });
});
