import type { RateAdjustment, RateController } from '@mdp/contracts';
import type { FeedbackInput } from '../../src/feedback/feedback-handler';
import type { GovernedProvider } from '../../src/flow/flow-controller';
import { FlowDriver } from '../../src/flow/flow-driver';
import { StepController } from '../../src/flow/step-controller';
import { FakeClock } from '../support/fake-clock';

class RecordingController implements RateController {
  readonly applied: RateAdjustment[] = [];
  apply(a: RateAdjustment): void {
    this.applied.push(a);
  }
}

const ONE: GovernedProvider[] = [{ provider: 'p', rate: 1000, weight: 1 }];

function feedback(level: string, extra: Partial<FeedbackInput> = {}): FeedbackInput {
  return {
    coordinator_id: 'store',
    queue_size: 0,
    capacity: 100,
    level,
    source: 'store',
    ts: 1,
    ...extra,
  };
}

describe('StepController', () => {
  it('steps down at once and back up only after the minimum dwell', () => {
    const clock = new FakeClock();
    const c = new StepController({ minDwellMs: 1000 });
    const scale = () => c.scales(clock.now(), ONE).get('p');
    expect(scale()).toBeUndefined(); // no feedback yet: no opinion
    c.observe(feedback('hard'), clock.now());
    expect(scale()).toBe(0);
    c.observe(feedback('ok'), clock.now() + 100);
    expect(c.scales(clock.now() + 999, ONE).get('p')).toBe(0);
    expect(c.scales(clock.now() + 1000, ONE).get('p')).toBe(1);
    c.observe(feedback('soft'), clock.now() + 1100);
    expect(c.scales(clock.now() + 1100, ONE).get('p')).toBe(0.5);
  });

  it('an event storm flips the scale at most once per dwell', () => {
    const c = new StepController({ minDwellMs: 1000 });
    let t = 0;
    let flips = 0;
    let last = 1;
    for (let i = 0; i < 600; i++, t += 50) {
      c.observe(feedback(['ok', 'soft', 'hard'][i % 3]), t);
      const s = c.scales(t, ONE).get('p')!;
      if (s !== last) flips++;
      last = s;
    }
    // 30 s of events every 50 ms: each rise waits 1 s, so at most two changes (a fall and a rise) per second.
    expect(flips).toBeLessThanOrEqual(60);
    expect(flips).toBeGreaterThan(0);
  });

  it('without a dwell it follows every event (the seeds behaviour)', () => {
    const c = new StepController();
    const seen = ['hard', 'ok', 'soft', 'ok'].map((l, i) => {
      c.observe(feedback(l), i);
      return c.scales(i, ONE).get('p');
    });
    expect(seen).toEqual([0, 1, 0.5, 1]);
  });
});

describe('StepController freshness', () => {
  const freshness = { defaultTtlMs: 10_000, decayMs: 5000 };

  it('a hard level older than its TTL decays back to full rate over the decay time', () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const c = new StepController({ minDwellMs: 1000, freshness });
    c.observe(feedback('hard', { ttl_s: 2 }), t0);
    const at = (ms: number) => c.scales(t0 + ms, ONE).get('p');
    expect(at(2000)).toBe(0);
    expect(at(4500)).toBeCloseTo(0.5);
    expect(c.level(t0 + 4500)).toBe('hard');
    expect(at(7000)).toBe(1);
    expect(c.level(t0 + 7000)).toBe('ok');
    // A refresh makes it fresh again.
    c.observe(feedback('hard', { ttl_s: 2 }), t0 + 8000);
    expect(at(8000)).toBe(0);
  });

  it('events without ttl_s use the configured TTL; 0 means they never go stale', () => {
    const c = new StepController({ freshness });
    c.observe(feedback('soft'), 0);
    expect(c.scales(10_000, ONE).get('p')).toBe(0.5);
    expect(c.scales(12_500, ONE).get('p')).toBeCloseTo(0.75);
    const never = new StepController({ freshness: { defaultTtlMs: 0, decayMs: 5000 } });
    never.observe(feedback('hard'), 0);
    expect(never.scales(3_600_000, ONE).get('p')).toBe(0);
  });

  it('a restarted store supersedes the old instance; late or repeated events are ignored', () => {
    const c = new StepController({ freshness });
    const old = { started_at: 100 };
    const fresh = { started_at: 200 };
    expect(c.observe(feedback('hard', { ...old, seq: 5 }), 0)).toBe(true);
    expect(c.observe(feedback('ok', { ...old, seq: 4 }), 10)).toBe(false); // late
    expect(c.observe(feedback('ok', { ...old, seq: 5 }), 20)).toBe(false); // repeated
    expect(c.scales(30, ONE).get('p')).toBe(0);
    expect(c.observe(feedback('ok', { ...fresh, seq: 0 }), 40)).toBe(true); // restarted store's first event
    expect(c.scales(40, ONE).get('p')).toBe(1);
    expect(c.observe(feedback('hard', { ...old, seq: 6 }), 50)).toBe(false); // the old instance, late
    expect(c.scales(50, ONE).get('p')).toBe(1);
  });

  it('with two stores the lower scale wins', () => {
    const c = new StepController({ freshness });
    c.observe(feedback('soft', { coordinator_id: 'a' }), 0);
    c.observe(feedback('ok', { coordinator_id: 'b' }), 0);
    expect(c.scales(0, ONE).get('p')).toBe(0.5);
    expect(c.level(0)).toBe('soft');
  });
});

describe('FlowDriver', () => {
  it('applies feedback at once and time-driven changes on its timer', async () => {
    const clock = new FakeClock();
    const rc = new RecordingController();
    const driver = new FlowDriver({
      controller: new StepController({ minDwellMs: 1000 }),
      rate: rc,
      providers: () => ONE,
      primary: 'p',
      clock,
      tickMs: 100,
    });
    driver.start();
    const adj = await driver.feedback(feedback('hard', { ts: 7 }), { correlationId: 'e1' });
    expect(adj).toEqual({
      provider: 'p',
      scale: 0,
      reason: 'hard',
      ts: 7,
      source_coordinator_id: 'store',
      correlation_id: 'e1',
    });
    await driver.feedback(feedback('ok'));
    expect(rc.applied.map((a) => a.scale)).toEqual([0, 0]);
    await clock.advance(1000);
    expect(rc.applied.map((a) => [a.scale, a.reason])).toEqual([
      [0, 'hard'],
      [0, 'hard'],
      [1, 'ok'],
    ]);
    await clock.advance(1000); // nothing changes: nothing applied
    expect(rc.applied).toHaveLength(3);
    driver.stop();
  });

  it('a store that went silent while hard: the timer brings the rate back within TTL + decay', async () => {
    const clock = new FakeClock();
    const rc = new RecordingController();
    const timed: RateAdjustment[] = [];
    const driver = new FlowDriver({
      controller: new StepController({ freshness: { defaultTtlMs: 10_000, decayMs: 1000 } }),
      rate: rc,
      providers: () => ONE,
      primary: 'p',
      clock,
      tickMs: 100,
      onTimed: (a) => timed.push(a),
    });
    driver.start();
    await driver.feedback(feedback('hard', { ttl_s: 2, started_at: 1, seq: 0 }));
    await clock.advance(2000);
    expect(rc.applied.map((a) => a.scale)).toEqual([0]);
    await clock.advance(1000);
    expect(rc.applied.at(-1)).toMatchObject({ scale: 1, reason: 'ok' });
    expect(timed.length).toBeGreaterThan(1); // a ramp, not a jump
    expect(timed.map((a) => a.scale)).toEqual([...timed.map((a) => a.scale)].sort((a, b) => a - b));
    driver.stop();
  });
});
