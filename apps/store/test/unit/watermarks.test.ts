import {
  BoundedQueue,
  QueueClosedError,
  QueueFullError,
} from '../../src/coordinator/bounded-queue';
import { WatermarkTracker, resolveWatermarks } from '../../src/coordinator/watermarks';

const tick = () => new Promise((r) => setImmediate(r));

describe('resolveWatermarks', () => {
  it('defaults to 80% / 50% of capacity', () => {
    expect(resolveWatermarks(10_000)).toEqual({ high: 8000, low: 5000 });
    expect(resolveWatermarks(1)).toEqual({ high: 1, low: 0 });
  });

  it('rejects a low watermark that is not below the high one', () => {
    expect(() => resolveWatermarks(100, 50, 50)).toThrow(
      'low watermark (50) must be below the high watermark (50)',
    );
    expect(() => resolveWatermarks(100, 120)).toThrow('high watermark');
    expect(() => resolveWatermarks(0)).toThrow('capacity');
  });
});

describe('WatermarkTracker', () => {
  it('emits soft, hard and ok once per transition with hysteresis', () => {
    const t = new WatermarkTracker(8, 5);
    const seen = [1, 5, 6, 7, 6, 7, 8, 9, 10, 8, 7, 6, 7, 5, 4, 6].map(
      (n) => t.observe(n)?.level ?? null,
    );
    expect(seen).toEqual([
      null,
      null,
      'soft',
      null,
      null,
      null,
      'hard',
      null,
      null,
      null,
      null,
      null,
      null,
      'ok',
      null,
      'soft',
    ]);
  });

  it('jumping straight to the high watermark reports only hard, and recovery carries the reason', () => {
    const t = new WatermarkTracker(8, 5);
    expect(t.observe(9)).toEqual({ level: 'hard' });
    expect(t.observe(3)).toEqual({ level: 'ok', reason: 'queue_recovered' });
  });
});

describe('BoundedQueue', () => {
  function queue(
    overflow: 'block' | 'drop_oldest' | 'error',
    capacity = 10,
    extra: { onDrop?: (n: number) => void } = {},
  ) {
    const events: Array<{ level: string; size: number; reason?: string }> = [];
    const q = new BoundedQueue<number>({
      capacity,
      overflow,
      onDrop: extra.onDrop,
      onTransition: (t, size) =>
        events.push({ level: t.level, size, ...(t.reason ? { reason: t.reason } : {}) }),
    });
    return { q, events };
  }

  it('emits one event per transition, never one per item, and never synchronously inside put', async () => {
    const { q, events } = queue('block', 10);
    for (let i = 0; i < 6; i++) await q.put(i);
    expect(events).toEqual([]); // soft is deferred: not delivered inside put
    await tick();
    expect(events).toEqual([{ level: 'soft', size: 6 }]);
    await q.put(6);
    await q.put(7); // 8 = high
    await q.put(8);
    await q.put(9);
    await tick();
    expect(events.map((e) => e.level)).toEqual(['soft', 'hard']);
    q.takeUpTo(1);
    q.takeUpTo(1);
    q.takeUpTo(1); // 7: back in the soft band, still quiet
    await tick();
    expect(events.map((e) => e.level)).toEqual(['soft', 'hard']);
    q.takeUpTo(2); // 5 = low
    await tick();
    expect(events[2]).toEqual({ level: 'ok', size: 5, reason: 'queue_recovered' });
    expect(events).toHaveLength(3);
  });

  it('block: put waits for space and never drops', async () => {
    const { q } = queue('block', 2);
    await q.put(1);
    await q.put(2);
    let done = false;
    const pending = q.put(3).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    expect(q.takeUpTo(1)).toEqual([1]);
    await pending;
    expect(q.takeUpTo(10)).toEqual([2, 3]);
  });

  it('block: putMany queues what fits and waits for the rest, in order', async () => {
    const { q } = queue('block', 3);
    let done = false;
    const p = q.putMany([1, 2, 3, 4, 5]).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    expect(q.size).toBe(3);
    const got: number[] = [];
    while (got.length < 5) {
      got.push(...q.takeUpTo(2));
      await tick();
    }
    await p;
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('error: a full queue rejects with QueueFullError', async () => {
    const { q } = queue('error', 2);
    await q.put(1);
    await q.put(2);
    await expect(q.put(3)).rejects.toBeInstanceOf(QueueFullError);
    expect(q.size).toBe(2);
  });

  it('drop_oldest: evicts the oldest item, reports it, and recovery after drops still emits ok', async () => {
    const dropped: number[] = [];
    const { q, events } = queue('drop_oldest', 4, { onDrop: (n) => dropped.push(n) });
    for (let i = 1; i <= 6; i++) await q.put(i);
    expect(dropped).toEqual([1, 2]);
    expect(q.takeUpTo(10)).toEqual([3, 4, 5, 6]);
    await tick();
    // capacity 4: high 3, low 2, so the queue jumps from ok straight to hard
    expect(events.map((e) => e.level)).toEqual(['hard', 'ok']);
  });

  it('takeBatch returns a full batch at once, or what arrived within the linger time', async () => {
    const { q } = queue('block', 100);
    await q.putMany([1, 2, 3, 4, 5]);
    expect(await q.takeBatch(3, 1000)).toEqual([1, 2, 3]);
    expect(await q.takeBatch(3, 30)).toEqual([4, 5]); // only 2 left: flushed when the linger time ends
    const later = q.takeBatch(3, 10_000);
    await q.putMany([6, 7, 8]); // reaching the batch size releases the waiter before the linger ends
    expect(await later).toEqual([6, 7, 8]);
  });

  it('waitForBatch lingers only while hold() says so; recheck() re-evaluates it', async () => {
    const { q } = queue('block', 100);
    await q.putMany([1, 2]);
    let holding = false;
    await q.waitForBatch(3, 10_000, undefined, () => holding); // not holding: a partial batch at once
    expect(q.takeUpTo(3)).toEqual([1, 2]);
    holding = true;
    await q.putMany([3]);
    let released = false;
    const waiting = q
      .waitForBatch(3, 10_000, undefined, () => holding)
      .then(() => (released = true));
    await q.putMany([4]);
    await tick();
    expect(released).toBe(false); // still holding, batch not full
    holding = false;
    q.recheck();
    await waiting;
    expect(q.takeUpTo(3)).toEqual([3, 4]);
  });

  it('close releases blocked producers with QueueClosedError and waiting consumers with nothing', async () => {
    const { q } = queue('block', 1);
    await q.put(1);
    const blocked = q.put(2);
    q.close();
    await expect(blocked).rejects.toBeInstanceOf(QueueClosedError);
    expect(q.takeUpTo(5)).toEqual([1]);
    expect(await q.takeBatch(5, 1000)).toEqual([]);
  });
});
