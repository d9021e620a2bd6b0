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
  return { coordinator_id: 'store', queue_size: 0, capacity: 100, level, source: 'store', ts: 1, ...extra };
}

describe('StepController', () => {
  it('steps down at once and back up only after the minimum dwell', () => {
    const clock = new FakeClock();
    const c = new StepController({ minDwellMs: 1000 });
    const scale = () => c.scales(clock.now(), ONE).get('p');
    expect(scale()).toBe(1);
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
    expect(adj).toEqual({ provider: 'p', scale: 0, reason: 'hard', ts: 7, source_coordinator_id: 'store', correlation_id: 'e1' });
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
});
