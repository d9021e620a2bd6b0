import type { FeedbackEvent } from '@mdp/contracts';
import { LevelEmitter } from '../../src/coordinator/level-emitter';
import { WatermarkTracker } from '../../src/coordinator/watermarks';

describe('LevelEmitter (minimum dwell per level)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  function setup(minDwellMs: number, refresh: { refreshMs?: number; refreshOkMs?: number } = {}) {
    let size = 0;
    const drained = { n: 0 };
    const events: FeedbackEvent[] = [];
    const tracker = new WatermarkTracker(80, 50);
    const emitter = new LevelEmitter(
      { coordinatorId: 'c', capacity: 100, size: () => size, drained: () => drained.n },
      (e) => events.push(e),
      { minDwellMs, ...refresh },
    );
    const depth = (n: number) => {
      size = n;
      const t = tracker.observe(n);
      if (t) emitter.transition(t);
    };
    return { events, emitter, depth, drained };
  }

  it('an oscillating queue yields at most one level event per dwell (60 a minute at 1 s)', () => {
    const { events, depth } = setup(1000);
    // 600 full swings in 60 s: 0 -> 90 -> 0 every 100 ms, i.e. 1 200 watermark transitions.
    for (let i = 0; i < 600; i++) {
      depth(90);
      jest.advanceTimersByTime(50);
      depth(10);
      jest.advanceTimersByTime(50);
    }
    jest.advanceTimersByTime(1000);
    expect(events.length).toBeGreaterThan(1);
    expect(events.length).toBeLessThanOrEqual(61);
    const times = events.map((e) => e.ts * 1000);
    for (let i = 1; i < times.length; i++)
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(1000);
    // Consecutive events always change the level (a coalesced change back is not published).
    for (let i = 1; i < events.length; i++) expect(events[i].level).not.toBe(events[i - 1].level);
  });

  it('publishes the first change at once and the level held when the dwell ends', () => {
    const { events, depth } = setup(1000);
    depth(60);
    expect(events.map((e) => e.level)).toEqual(['soft']);
    depth(85); // hard inside the dwell: held back
    expect(events).toHaveLength(1);
    jest.advanceTimersByTime(999);
    expect(events).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(events.map((e) => [e.level, e.queue_size])).toEqual([
      ['soft', 60],
      ['hard', 85],
    ]);
    depth(40);
    jest.advanceTimersByTime(1000);
    expect(events[2]).toMatchObject({
      level: 'ok',
      reason: 'queue_recovered',
      queue_size: 40,
      utilization: 0.4,
      capacity: 100,
      coordinator_id: 'c',
    });
  });

  it('a change undone within the dwell publishes nothing', () => {
    const { events, depth } = setup(1000);
    depth(90);
    jest.advanceTimersByTime(300);
    depth(10);
    jest.advanceTimersByTime(300);
    depth(90); // back to hard before the dwell of `hard` ends
    jest.advanceTimersByTime(5000);
    expect(events.map((e) => e.level)).toEqual(['hard']);
  });

  it('without a dwell every transition is published at once', () => {
    const { events, depth } = setup(0);
    depth(60);
    depth(90);
    depth(10);
    expect(events.map((e) => e.level)).toEqual(['soft', 'hard', 'ok']);
  });

  it('publishes nothing after close', () => {
    const { events, depth, emitter } = setup(1000);
    depth(90);
    depth(10);
    emitter.close();
    jest.advanceTimersByTime(5000);
    expect(events.map((e) => e.level)).toEqual(['hard']);
  });

  it('re-publishes the level while not ok at one interval and while ok at a slower one, with seq, started_at, ttl_s and drain_rate', () => {
    const { events, emitter, depth, drained } = setup(1000, { refreshMs: 500, refreshOkMs: 5000 });
    emitter.start();
    // The sink drains 300 items/s.
    const timer = setInterval(() => (drained.n += 30), 100);
    jest.advanceTimersByTime(4999);
    expect(events).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(events[0]).toMatchObject({ level: 'ok', reason: 'refresh', seq: 0, ttl_s: 20 });
    depth(90);
    expect(events[1]).toMatchObject({ level: 'hard', seq: 1, ttl_s: 2, queue_size: 90 });
    expect(events[1].reason).toBeUndefined();
    jest.advanceTimersByTime(2000);
    expect(events.slice(2).map((e) => [e.level, e.reason, e.seq])).toEqual([
      ['hard', 'refresh', 2],
      ['hard', 'refresh', 3],
      ['hard', 'refresh', 4],
      ['hard', 'refresh', 5],
    ]);
    // Counted over the last half second (sampled every 50 ms): within a sample of 300.
    expect(events[5].drain_rate).toBeGreaterThan(250);
    expect(events[5].drain_rate).toBeLessThan(350);
    expect(new Set(events.map((e) => e.started_at)).size).toBe(1);
    expect(events[0].started_at).toBe(1_700_000_000);
    depth(10);
    const okAt = events.length;
    expect(events[okAt - 1]).toMatchObject({ level: 'ok', reason: 'queue_recovered', ttl_s: 20 });
    // The first refresh after a change comes at the quick interval, then every 5 s while ok.
    jest.advanceTimersByTime(500);
    expect(events[okAt]).toMatchObject({ level: 'ok', reason: 'refresh' });
    jest.advanceTimersByTime(4999);
    expect(events).toHaveLength(okAt + 1);
    jest.advanceTimersByTime(1);
    expect(events[okAt + 1]).toMatchObject({ level: 'ok', reason: 'refresh' });
    clearInterval(timer);
    emitter.close();
    jest.advanceTimersByTime(60_000);
    expect(events).toHaveLength(okAt + 2);
  });

  it('a restarted emitter starts a new instance: a later started_at and seq from 0', () => {
    const a = setup(0, { refreshMs: 500, refreshOkMs: 500 });
    a.emitter.start();
    jest.advanceTimersByTime(1000);
    jest.setSystemTime(1_700_000_100_000);
    const b = setup(0, { refreshMs: 500, refreshOkMs: 500 });
    b.emitter.start();
    jest.advanceTimersByTime(500);
    expect(a.events[0].seq).toBe(0);
    expect(b.events[0].seq).toBe(0);
    expect(b.events[0].started_at!).toBeGreaterThan(a.events[0].started_at!);
    a.emitter.close();
    b.emitter.close();
  });
});
