import type { EventEnvelope, FeedbackEvent, RateAdjustment, RateController } from '@mdp/contracts';
import { createEnvelope, createEventBus, PulseBus } from '@mdp/pulse';
import { Registry } from 'prom-client';
import { STREAMS } from '@mdp/contracts';
import { FeedbackConsumer } from '../../src/feedback/feedback-consumer';
import { FeedbackHandler } from '../../src/feedback/feedback-handler';
import { PipelineMetrics } from '../../src/metrics/pipeline-metrics';
import { RateCoordinator } from '../../src/rate/rate-coordinator';
import { RateCoordinatorAdapter } from '../../src/rate/rate-coordinator-adapter';
import { waitFor } from '../support/fake-clock';

const feedback = (level: string, extra: Partial<FeedbackEvent> = {}): FeedbackEvent =>
  ({
    coordinator_id: 'store-1',
    queue_size: 90,
    capacity: 100,
    level,
    source: 'store',
    ts: Date.now() / 1000,
    ...extra,
  }) as FeedbackEvent;

async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  return (await m.get()).values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((a, v) => a + v.value, 0);
}

describe('FeedbackConsumer (in-memory bus)', () => {
  let bus: PulseBus;
  let registry: Registry;
  let coordinator: RateCoordinator;
  let consumer: FeedbackConsumer;
  let applied: RateAdjustment[];
  let controller: RateController & { failing: boolean };

  function start(track: 'v1' | 'v2' = 'v1') {
    registry = new Registry();
    bus = createEventBus({ backend: 'inmem', namespace: 'fbtest', track, registry }) as PulseBus;
    coordinator = new RateCoordinator();
    coordinator.registerProvider('ibkr', { rate: 100, burst: 10 });
    const adapter = new RateCoordinatorAdapter(coordinator);
    controller = {
      failing: false,
      apply(a) {
        if (this.failing) throw new Error('controller unavailable');
        adapter.apply(a);
      },
    };
    applied = [];
    consumer = new FeedbackConsumer(bus, new FeedbackHandler(controller, 'ibkr'), {
      consumer: 'c1',
      blockMs: 20,
      minIdleMs: 20,
      maxDeliveries: 2,
      attempts: 1,
      metrics: new PipelineMetrics(registry, coordinator),
      onAdjustment: (a) => applied.push(a),
    });
    consumer.start();
  }

  afterEach(async () => {
    await consumer.stop();
    await bus.close();
  });

  it('applies a feedback event to the provider and announces the adjustment', async () => {
    start('v1');
    const publish = jest.spyOn(bus, 'publish');
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback('soft'), { key: 'store-1' }),
    );
    await waitFor(
      () => publish.mock.calls.some(([stream]) => stream === STREAMS.rateAdjustment),
      10_000,
      'rate adjustment announcement',
    );
    const announced = publish.mock.calls
      .filter(([stream]) => stream === STREAMS.rateAdjustment)
      .map(([, env]) => env as EventEnvelope<RateAdjustment>);
    expect(announced).toHaveLength(1);
    expect(coordinator.snapshot('ibkr')).toMatchObject({
      scale: 0.5,
      pressure: 'soft',
      effectiveRate: 50,
    });
    expect(announced[0].meta).toMatchObject({ schema_id: 'telemetry.RateAdjustment', track: 'v1' });
    expect(announced[0].payload).toEqual({
      provider: 'ibkr',
      scale: 0.5,
      reason: 'soft',
      ts: expect.any(Number),
    });
    expect(
      await metric(registry, 'pipeline_feedback_events_received_total', {
        source: 'store',
        level: 'soft',
      }),
    ).toBe(1);
    expect(
      await metric(registry, 'pipeline_rate_adjustments_total', {
        provider: 'ibkr',
        reason: 'soft',
      }),
    ).toBe(1);
    await waitFor(
      async () => (await metric(registry, 'pulse_consume_total', { outcome: 'success' })) >= 1,
      10_000,
      'consume metric',
    );
  });

  it('on track v2 the announcement carries the source coordinator and the feedback envelope id', async () => {
    start('v2');
    const env = createEnvelope(
      'telemetry.FeedbackEvent',
      feedback('hard', { utilization: 0.97, reason: 'queue full' } as Partial<FeedbackEvent>),
      { track: 'v2' },
    );
    await bus.publish('telemetry.feedback', env);
    await waitFor(() => applied.length === 1, 10_000, 'adjustment');
    expect(applied[0]).toMatchObject({
      provider: 'ibkr',
      scale: 0,
      reason: 'hard',
      source_coordinator_id: 'store-1',
      correlation_id: env.id,
    });
    expect(coordinator.snapshot('ibkr').effectiveRate).toBe(0);
  });

  it('the same envelope twice gives one adjustment', async () => {
    start();
    const env = createEnvelope('telemetry.FeedbackEvent', feedback('hard'));
    await bus.publish('telemetry.feedback', env);
    await bus.publish('telemetry.feedback', env);
    const marker = createEnvelope('telemetry.FeedbackEvent', feedback('ok'));
    await bus.publish('telemetry.feedback', marker);
    await waitFor(() => applied.some((a) => a.reason === 'ok'), 10_000, 'marker event');
    expect(applied.map((a) => a.reason)).toEqual(['hard', 'ok']);
    await waitFor(
      async () => (await metric(registry, 'pulse_consume_total', { outcome: 'duplicate' })) === 1,
      10_000,
      'duplicate counted',
    );
  });

  it('bad envelopes go to the dead-letter stream and the consumer continues', async () => {
    start();
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', { ...feedback('soft'), capacity: 0 }),
    );
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', { ...feedback('soft'), level: 'panic' }),
    );
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('md.Bar', {
        provider: 'x',
        symbol: 'A',
        interval: '1m',
        ts: 1,
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
      }),
    );
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback('soft')),
    );
    await waitFor(() => applied.length === 1, 10_000, 'the good event');
    await waitFor(
      async () => (await bus.readDeadLetters('telemetry.feedback')).length === 3,
      10_000,
      'three dead letters',
    );
    const reasons = (await bus.readDeadLetters('telemetry.feedback'))
      .map((d) => d.reason)
      .join('\n');
    expect(reasons).toMatch(/capacity: must be > 0/);
    expect(reasons).toMatch(/level/);
    expect(reasons).toMatch(/unexpected schema "md.Bar"/);
    expect(coordinator.snapshot('ibkr').scale).toBe(0.5);
  });

  it('a handler that keeps failing dead-letters the event after the allowed deliveries, then carries on', async () => {
    start();
    controller.failing = true;
    const doomed = createEnvelope('telemetry.FeedbackEvent', feedback('hard'));
    await bus.publish('telemetry.feedback', doomed);
    await waitFor(
      async () => (await bus.readDeadLetters('telemetry.feedback')).length === 1,
      10_000,
      'dead letter',
    );
    const [dl] = await bus.readDeadLetters('telemetry.feedback');
    expect(dl).toMatchObject({ envelopeId: doomed.id, attempts: 2 });
    expect(dl.reason).toMatch(/controller unavailable/);
    controller.failing = false;
    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', feedback('soft')),
    );
    await waitFor(() => applied.length === 1, 10_000, 'next event');
    expect(coordinator.snapshot('ibkr').scale).toBe(0.5);
  });
});
