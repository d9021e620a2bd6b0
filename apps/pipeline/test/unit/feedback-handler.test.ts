import type { RateAdjustment, RateController } from '@mdp/contracts';
import { FeedbackHandler, FeedbackInput } from '../../src/feedback/feedback-handler';
import { DEFAULT_FEEDBACK_POLICY, makePolicy, scaleFor } from '../../src/feedback/feedback-policy';

class RecordingController implements RateController {
  readonly applied: RateAdjustment[] = [];
  apply(a: RateAdjustment): void {
    this.applied.push(a);
  }
}

const event = (level: string): FeedbackInput => ({
  coordinator_id: 'store-1',
  queue_size: 5,
  capacity: 10,
  level,
  source: 'store',
  ts: 1700000000.5,
});

describe('level -> scale', () => {
  it.each([
    ['ok', 1.0],
    ['soft', 0.5],
    ['hard', 0.0],
  ] as const)('default policy maps %s to %d', (level, scale) => {
    expect(scaleFor(DEFAULT_FEEDBACK_POLICY, level)).toBe(scale);
  });

  it.each([
    ['OK', 1.0],
    ['Soft', 0.5],
    [' HARD ', 0.0],
  ])('accepts string level %j in any case', (level, scale) => {
    expect(scaleFor(DEFAULT_FEEDBACK_POLICY, level)).toBe(scale);
  });

  it('uses custom policies for every level', () => {
    const policy = makePolicy({ ok: 0.9, soft: 0.7, hard: 0.1 });
    expect([scaleFor(policy, 'ok'), scaleFor(policy, 'soft'), scaleFor(policy, 'hard')]).toEqual([
      0.9, 0.7, 0.1,
    ]);
    expect(makePolicy({ soft: 0.7 })).toEqual({ ok: 1, soft: 0.7, hard: 0 });
  });

  it('rejects unknown levels and out-of-range policies', () => {
    expect(() => scaleFor(DEFAULT_FEEDBACK_POLICY, 'panic')).toThrow(
      /unknown backpressure level "panic"/,
    );
    expect(() => makePolicy({ hard: 1.5 })).toThrow(/"hard" must be within \[0, 1\]/);
    expect(() => makePolicy({ ok: NaN })).toThrow(/"ok"/);
  });
});

describe('FeedbackHandler', () => {
  it.each([
    ['ok', 1.0],
    ['soft', 0.5],
    ['hard', 0.0],
  ] as const)('applies %s as scale %d for the configured provider', async (level, scale) => {
    const rc = new RecordingController();
    const adj = await new FeedbackHandler(rc, 'ibkr').handle(event(level), {
      correlationId: 'env-1',
    });
    expect(rc.applied).toEqual([adj]);
    expect(adj).toEqual({
      provider: 'ibkr',
      scale,
      reason: level,
      ts: 1700000000.5,
      source_coordinator_id: 'store-1',
      correlation_id: 'env-1',
    });
  });

  it('normalises string levels and applies a custom policy', async () => {
    const rc = new RecordingController();
    await new FeedbackHandler(rc, 'p', makePolicy({ soft: 0.7 })).handle(event('SOFT'));
    expect(rc.applied[0]).toMatchObject({ provider: 'p', scale: 0.7, reason: 'soft' });
  });

  it('does not apply anything for an unknown level', async () => {
    const rc = new RecordingController();
    await expect(new FeedbackHandler(rc, 'p').handle(event('meltdown'))).rejects.toThrow(
      /unknown backpressure level/,
    );
    expect(rc.applied).toEqual([]);
  });
});
