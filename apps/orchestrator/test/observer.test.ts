import request from 'supertest';
import { createEnvelope, createEventBus, PulseBus } from '@mdp/pulse';
import { uniqueId } from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { quietEnv, statusWhen, until } from './helpers';

const feedback = (level: 'ok' | 'soft' | 'hard', queue_size: number) => ({
  coordinator_id: 'bars',
  queue_size,
  capacity: 1000,
  level,
  source: 'store',
  ts: Date.now() / 1000,
});

describe('observer on a shared in-memory bus', () => {
  let bus: PulseBus;
  let orch: OrchestratorHandle;

  beforeAll(async () => {
    const namespace = uniqueId('orch_obs');
    bus = createEventBus({ backend: 'inmem', namespace });
    orch = await bootstrap({ port: 0, handleSignals: false, bus, env: quietEnv(namespace) });
  });
  afterAll(async () => {
    await orch?.close();
    await bus?.close();
  });

  it('sees a FeedbackEvent: counted ok, lag recorded, latest level per coordinator', async () => {
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback('soft', 600), { key: 'bars' }),
    );
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback('hard', 900), { key: 'bars' }),
    );
    const status = await statusWhen(
      orch.app,
      (s) => s.observer.streams['telemetry.feedback'].events.ok === 2,
    );
    const fb = status.observer.streams['telemetry.feedback'];
    expect(fb.events).toEqual({ ok: 2, invalid: 0 });
    expect(fb.coordinators).toEqual({
      bars: expect.objectContaining({ level: 'hard', queue_size: 900, capacity: 1000 }),
    });
    expect(fb.last_event).toMatchObject({
      key: 'bars',
      schema_id: 'telemetry.FeedbackEvent',
      track: 'v1',
    });
    expect(fb.lag_ms.last).toBeGreaterThanOrEqual(0);
    expect(fb.lag_ms.max).toBeGreaterThanOrEqual(fb.lag_ms.last);

    const metrics = (await request(orch.app.getHttpServer()).get('/metrics').expect(200)).text;
    expect(metrics).toContain(
      'orchestrator_observed_events_total{stream="telemetry.feedback",track="v1",outcome="ok"} 2',
    );
    // The shared bus keeps pulse_* in its own registry; the orchestrator exposes it.
    expect(metrics).toMatch(/pulse_publish_total\{[^}]*outcome="success"[^}]*\} 2/);
    expect(metrics).toContain(
      'orchestrator_observed_lag_seconds_count{stream="telemetry.feedback"} 2',
    );
    expect(metrics).toContain('orchestrator_backpressure_level{coordinator_id="bars"} 2');
  });

  it('sees a v2 RateAdjustment (extra optional fields) and keeps the latest scale per provider', async () => {
    const adjustment = {
      provider: 'synthetic',
      scale: 0.5,
      reason: 'hard',
      ts: Date.now() / 1000,
      correlation_id: 'fb-1',
    };
    await bus.publish(
      'telemetry.rate_adjustment',
      createEnvelope('telemetry.RateAdjustment', adjustment, { key: 'synthetic', track: 'v2' }),
    );
    const status = await statusWhen(
      orch.app,
      (s) => s.observer.streams['telemetry.rate_adjustment'].events.ok === 1,
    );
    expect(status.observer.streams['telemetry.rate_adjustment'].providers).toEqual({
      synthetic: { scale: 0.5, reason: 'hard', ts: adjustment.ts },
    });
    const metrics = (await request(orch.app.getHttpServer()).get('/metrics').expect(200)).text;
    expect(metrics).toContain(
      'orchestrator_observed_events_total{stream="telemetry.rate_adjustment",track="v2",outcome="ok"} 1',
    );
    expect(metrics).toContain('orchestrator_rate_scale{provider="synthetic"} 0.5');
  });

  it('an event that breaks its contract is dead-lettered by the bus with the reason, never handled or dropped', async () => {
    const before = (await statusWhen(orch.app, () => true)).observer.streams['telemetry.feedback']
      .events;
    const bad = createEnvelope(
      'telemetry.FeedbackEvent',
      { ...feedback('ok', 1), capacity: 0 },
      { key: 'bars' },
    );
    await bus.publish('telemetry.feedback', bad);
    const dead = await until(async () => {
      const letters = await bus.readDeadLetters('telemetry.feedback');
      return letters.find((l) => l.envelopeId === bad.id);
    }, 'the invalid event in telemetry.feedback.dlq');
    expect(dead).toMatchObject({
      group: 'orchestrator',
      reason: expect.stringContaining('capacity: must be > 0'),
    });
    const after = (await statusWhen(orch.app, () => true)).observer.streams['telemetry.feedback']
      .events;
    expect(after).toEqual(before);
  });

  it('an event of the wrong schema on a stream is invalid, naming what the stream carries', async () => {
    const wrong = createEnvelope('telemetry.RateAdjustment', {
      provider: 'p',
      scale: 1,
      reason: 'ok',
      ts: 1,
    });
    await bus.publish('telemetry.feedback', wrong);
    const status = await statusWhen(
      orch.app,
      (s) => s.observer.streams['telemetry.feedback'].last_error?.id === wrong.id,
    );
    expect(status.observer.streams['telemetry.feedback'].last_error.reason).toBe(
      'telemetry.feedback carries telemetry.FeedbackEvent, got meta.schema_id "telemetry.RateAdjustment"',
    );
    expect(status.observer.streams['telemetry.feedback'].events.invalid).toBe(1);
    const dead = await until(
      async () =>
        (await bus.readDeadLetters('telemetry.feedback')).find((l) => l.envelopeId === wrong.id),
      'the misplaced event in the DLQ',
    );
    expect(dead.reason).toContain('telemetry.feedback carries telemetry.FeedbackEvent');
  });

  it('closing the orchestrator leaves a shared bus open for the other services', async () => {
    const namespace = uniqueId('orch_shared');
    const shared = createEventBus({ backend: 'inmem', namespace });
    const other = await bootstrap({
      port: 0,
      handleSignals: false,
      bus: shared,
      env: quietEnv(namespace),
    });
    await other.close();
    await expect(
      shared.publish(
        'telemetry.feedback',
        createEnvelope('telemetry.FeedbackEvent', feedback('ok', 0)),
      ),
    ).resolves.toEqual(expect.any(String));
    await shared.close();
  });
});
