/**
 * SIGTERM of the store while its queue is full: it stops reading, drains what it holds, and exits 0
 * with nothing of its own left pending on the stream; restarted, it goes on. The consumer shut down
 * cleanly, so nothing may be handled twice.
 */
import { describeWithServices } from '@mdp/testing';
import { expectEveryBarOnce, report, useSystem } from '../support/system';

const BARS = 6_000;
const RATE = 2_000;

describeWithServices('SIGTERM of the store under load', () => {
  const newSystem = useSystem();

  it('drains, leaves nothing pending, and the restarted store writes the rest once', async () => {
    const s = await newSystem();
    // Slow enough that the queue is full when SIGTERM arrives, fast enough to drain it (2 000 rows)
    // well within the default 10 s drain timeout.
    const { store, pipeline, storeEnv } = await s.startStoreAndPipeline({
      bars: BARS,
      rate: RATE,
      store: { MDS_FAULT_SINK_MAX_ROWS_PER_SEC: '1000' },
    });

    await s.waitPersisted(BARS / 4, 30_000, () => store.output());
    store.kill('SIGTERM');
    const exit = await store.exited;
    const [pendingAfterExit] = (await s.redis.xpending(s.barsStream, 'store')) as [number];
    const restarted = await s.start(
      'store',
      { ...storeEnv, MDS_FAULT_SINK_MAX_ROWS_PER_SEC: undefined },
      'store-restarted',
    );
    await restarted.waitReady();
    await s.waitPersisted(BARS, 60_000, () =>
      [restarted.output(20), pipeline.output(10)].join('\n'),
    );

    const o = await s.outcome();
    report('store SIGTERM', o.figures, `pending_after_exit=${pendingAfterExit}`);
    expect(exit).toEqual({ code: 0, signal: null });
    expectEveryBarOnce(o, BARS);
    expect(o.handledTwice).toBe(0);
    expect(pendingAfterExit).toBe(0);
  });
});
