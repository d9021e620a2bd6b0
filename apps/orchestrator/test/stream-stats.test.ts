import { StreamStats } from '../src/observer/stream-stats';

const envelope = (id: string, ts: number) => ({
  id,
  key: 'k',
  ts,
  meta: { schema_id: 'telemetry.FeedbackEvent', track: 'v1' as const, headers: {} },
  payload: {},
});

describe('StreamStats', () => {
  it('tracks counts per outcome, last and max lag, last event and last error', () => {
    const s = new StreamStats(
      'telemetry.feedback',
      'ns.telemetry.feedback',
      'telemetry.FeedbackEvent',
    );
    s.recordOk(envelope('a', 100), 40, 100_040);
    s.recordOk(envelope('b', 101), 10, 101_010);
    s.recordInvalid('c', 'payload.level: must be one of ok | soft | hard', 102_000);
    const status = s.status();
    expect(status.events).toEqual({ ok: 2, invalid: 1 });
    expect(status.lag_ms).toEqual({ last: 10, max: 40 });
    expect(status.last_event).toMatchObject({ id: 'b', ts: 101, lag_ms: 10, seen_at: 101.01 });
    expect(status.last_error).toEqual({
      id: 'c',
      reason: 'payload.level: must be one of ok | soft | hard',
      seen_at: 102,
    });
  });

  it('keeps the latest level per coordinator, bounded so junk ids cannot grow it without limit', () => {
    const s = new StreamStats(
      'telemetry.feedback',
      'ns.telemetry.feedback',
      'telemetry.FeedbackEvent',
    );
    for (let i = 0; i < 300; i++)
      s.recordFeedback({
        coordinator_id: `c${i}`,
        queue_size: i,
        capacity: 1000,
        level: 'ok',
        source: 'store',
        ts: i,
      });
    s.recordFeedback({
      coordinator_id: 'c299',
      queue_size: 900,
      capacity: 1000,
      level: 'hard',
      source: 'store',
      ts: 400,
    });
    const coordinators = s.status().coordinators!;
    expect(Object.keys(coordinators)).toHaveLength(256);
    expect(coordinators.c0).toBeUndefined();
    expect(coordinators.c299).toEqual({ level: 'hard', queue_size: 900, capacity: 1000, ts: 400 });
  });

  it('reports providers only for the rate adjustment stream', () => {
    const s = new StreamStats(
      'telemetry.rate_adjustment',
      'ns.telemetry.rate_adjustment',
      'telemetry.RateAdjustment',
    );
    s.recordRateAdjustment({ provider: 'ibkr', scale: 0.5, reason: 'hard', ts: 1 });
    expect(s.status().providers).toEqual({ ibkr: { scale: 0.5, reason: 'hard', ts: 1 } });
    expect(s.status().coordinators).toBeUndefined();
  });
});
