/**
 * kill -9 of the store in the middle of a run: whatever it had read and not acked stays pending on
 * the stream; the restarted store (same consumer name) takes it back. Every bar persisted once;
 * nothing lost. Rows re-handled after the kill are expected (the consumer died holding them) and
 * reported, not asserted.
 */
import { delay, describeWithServices } from '@mdp/testing';
import { expectEveryBarOnce, report, useSystem } from '../support/system';

const BARS = 8_000;
const RATE = 2_000;

describeWithServices('kill -9 of the store mid-run', () => {
  const newSystem = useSystem();

  it('restarts and persists every bar exactly once', async () => {
    const s = await newSystem();
    const { store, pipeline, storeEnv } = await s.startStoreAndPipeline({ bars: BARS, rate: RATE });

    await s.waitPersisted(BARS / 4, 30_000, () => store.output());
    store.kill('SIGKILL');
    expect((await store.exited).signal).toBe('SIGKILL');
    await delay(1000);
    const restarted = await s.start('store', storeEnv, 'store-restarted');
    await restarted.waitReady();
    await s.waitPersisted(BARS, 60_000, () =>
      [restarted.output(20), pipeline.output(10)].join('\n'),
    );

    const o = await s.outcome();
    report('store kill -9', o.figures);
    expectEveryBarOnce(o, BARS);
    expect(o.deadLettered).toBe(0);
  });
});
