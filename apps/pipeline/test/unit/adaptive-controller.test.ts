import type { FeedbackInput } from '../../src/feedback/feedback-handler';
import { AdaptiveController } from '../../src/flow/adaptive-controller';
import { fairShares } from '../../src/flow/fair-share';
import type { GovernedProvider } from '../../src/flow/flow-controller';
import { FakeClock } from '../support/fake-clock';

const freshness = { defaultTtlMs: 10_000, decayMs: 5000 };
const ONE: GovernedProvider[] = [{ provider: 'p', rate: 4000, weight: 1 }];

/** A v2 store event: queue of capacity 10 000 at `utilization`, draining `drain` items/s. */
function v2(
  level: string,
  utilization: number,
  drain: number,
  extra: Partial<FeedbackInput> = {},
): FeedbackInput {
  return {
    coordinator_id: 'store',
    queue_size: Math.round(utilization * 10_000),
    capacity: 10_000,
    level,
    source: 'store',
    ts: 1,
    utilization,
    drain_rate: drain,
    ttl_s: 2,
    started_at: 100,
    ...extra,
  };
}

/**
 * A store simulated step by step: a queue fed by the controller's rate and drained by a sink of
 * `capacity` items/s, reporting every 500 ms like the store does while soft/hard.
 */
function simulate(
  c: AdaptiveController,
  clock: FakeClock,
  sink: (t: number) => number,
  seconds: number,
) {
  let queue = 0;
  let seq = 0;
  const trace: Array<{ t: number; u: number; rate: number }> = [];
  const start = clock.now();
  for (let step = 0; step < seconds * 10; step++) {
    const now = start + step * 100;
    const rate = (c.scales(now, ONE).get('p') ?? 1) * 4000;
    const cap = sink(step / 10);
    const drained = Math.min(queue + rate * 0.1, cap * 0.1);
    queue = Math.min(10_000, Math.max(0, queue + rate * 0.1 - drained));
    const u = queue / 10_000;
    if (step % 5 === 0) {
      const level = u >= 0.8 ? 'hard' : u > 0.5 ? 'soft' : 'ok';
      c.observe(v2(level, u, drained * 10, { seq: seq++ }), now, ONE);
    }
    trace.push({ t: step / 10, u, rate });
  }
  return trace;
}

describe('AdaptiveController', () => {
  it('has no opinion before feedback', () => {
    const c = new AdaptiveController({ freshness });
    expect(c.scales(0, ONE).size).toBe(0);
  });

  it('steps down: a sink 10x slower than the offered rate is fed at its pace with the queue held near the target', () => {
    const clock = new FakeClock();
    const c = new AdaptiveController({ freshness });
    const trace = simulate(c, clock, (t) => (t < 5 ? 5000 : 500), 30);
    const settled = trace.filter((x) => x.t >= 20);
    for (const x of settled) {
      expect(x.u).toBeGreaterThan(0.5);
      expect(x.u).toBeLessThan(0.7);
    }
    const meanRate = settled.reduce((s, x) => s + x.rate, 0) / settled.length;
    expect(meanRate).toBeGreaterThan(450);
    expect(meanRate).toBeLessThan(550);
    expect(Math.max(...trace.map((x) => x.u))).toBeLessThan(0.8); // never reaches the high watermark
  });

  it('steps up: full rate within a second of the sink recovering', () => {
    const clock = new FakeClock();
    const c = new AdaptiveController({ freshness });
    const trace = simulate(c, clock, (t) => (t < 20 ? 500 : 5000), 30);
    expect(trace.find((x) => x.t === 19.9)!.rate).toBeLessThan(1000);
    const back = trace.find((x) => x.t >= 20 && x.rate >= 4000);
    expect(back).toBeDefined();
    expect(back!.t - 20).toBeLessThanOrEqual(1);
  });

  it('a store gone silent: its limit fades back to the full budget over TTL + decay', () => {
    const c = new AdaptiveController({ freshness });
    c.observe(v2('hard', 0.9, 0), 0, ONE);
    expect(c.scales(0, ONE).get('p')).toBe(0);
    expect(c.level(0)).toBe('hard');
    expect(c.scales(2000, ONE).get('p')).toBe(0); // ttl_s 2: still fresh
    expect(c.scales(4500, ONE).get('p')).toBeCloseTo(0.5);
    expect(c.scales(7000, ONE).get('p')).toBe(1);
    expect(c.level(7000)).toBe('ok');
  });

  it('a restarted store supersedes the old instance; late events of the old one are ignored', () => {
    const c = new AdaptiveController({ freshness });
    c.observe(v2('hard', 0.95, 0, { started_at: 100, seq: 9 }), 0, ONE);
    expect(c.observe(v2('ok', 0.1, 3000, { started_at: 100, seq: 8 }), 10, ONE)).toBe(false);
    expect(c.scales(10, ONE).get('p')).toBe(0);
    // The restarted store's first event: empty queue, nothing drained yet.
    expect(c.observe(v2('ok', 0, 0, { started_at: 200, seq: 0 }), 20, ONE)).toBe(true);
    expect(c.observe(v2('hard', 0.95, 0, { started_at: 100, seq: 10 }), 30, ONE)).toBe(false);
    // 0 drained + 0.6 x 10 000 / 2 s = 3 000/s of the 4 000 budget, probing up from there while ok.
    expect(c.scales(20, ONE).get('p')).toBeCloseTo(0.75, 2);
    expect(c.scales(1030, ONE).get('p')).toBe(1);
  });

  it('v1 events (no drain rate) move the rate by AIMD on utilisation', () => {
    const c = new AdaptiveController({ freshness, decrease: 0.5, increasePerSec: 0.25 });
    const v1 = (level: string, queue: number): FeedbackInput => ({
      coordinator_id: 'py',
      queue_size: queue,
      capacity: 100,
      level,
      source: 'store',
      ts: 1,
    });
    c.observe(v1('hard', 85), 0, ONE);
    expect(c.scales(0, ONE).get('p')).toBe(0.5);
    c.observe(v1('hard', 90), 100, ONE);
    expect(c.scales(100, ONE).get('p')).toBe(0.25);
    c.observe(v1('ok', 10), 200, ONE);
    expect(c.scales(200, ONE).get('p')).toBe(0.25);
    expect(c.scales(1200, ONE).get('p')).toBeCloseTo(0.5); // + 25 % of the budget per second
    expect(c.scales(4200, ONE).get('p')).toBe(1);
  });

  it('two providers share the allowed rate by weight; what one cannot use goes to the other', () => {
    const two: GovernedProvider[] = [
      { provider: 'a', rate: 3000, weight: 3 },
      { provider: 'b', rate: 3000, weight: 1 },
    ];
    const c = new AdaptiveController({ freshness });
    // Allowed: 1 000 drained + (0.6 - 0.6) x ... = 1 000/s.
    c.observe(v2('soft', 0.6, 1000), 0, two);
    const scales = c.scales(0, two);
    expect(scales.get('a')! * 3000).toBeCloseTo(750);
    expect(scales.get('b')! * 3000).toBeCloseTo(250);
    // 4 000/s allowed: a is capped at its 3 000, b gets the remaining 1 000 rather than a third.
    c.observe(v2('soft', 0.6, 4000, { seq: 1 }), 10, two);
    const more = c.scales(10, two);
    expect(more.get('a')).toBe(1);
    expect(more.get('b')! * 3000).toBeCloseTo(1000);
  });
});

describe('fairShares', () => {
  it('is weighted max-min fair', () => {
    const shares = fairShares(1000, [
      { provider: 'small', rate: 100, weight: 1 },
      { provider: 'big', rate: 10_000, weight: 1 },
      { provider: 'heavy', rate: 10_000, weight: 2 },
    ]);
    expect(shares.get('small')).toBe(100);
    expect(shares.get('big')).toBeCloseTo(300);
    expect(shares.get('heavy')).toBeCloseTo(600);
  });
});
