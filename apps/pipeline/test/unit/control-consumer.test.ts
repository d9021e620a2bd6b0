import type { AuditEnvelope, ControlAction, EventEnvelope } from '@mdp/contracts';
import { createEnvelope, createEventBus, PulseBus, Subscription } from '@mdp/pulse';
import { Registry } from 'prom-client';
import { STREAMS } from '@mdp/contracts';
import { ControlConsumer } from '../../src/control/control-consumer';
import { PipelineMetrics } from '../../src/metrics/pipeline-metrics';
import { RateCoordinator } from '../../src/rate/rate-coordinator';
import { waitFor } from '../support/fake-clock';

describe('ControlConsumer (in-memory bus)', () => {
  let bus: PulseBus;
  let coordinator: RateCoordinator;
  let consumer: ControlConsumer;
  let audits: EventEnvelope<AuditEnvelope>[];
  let auditSub: Subscription;
  let registry: Registry;

  const send = (payload: Partial<ControlAction>, track: 'v1' | 'v2' = 'v2') =>
    bus.publish(
      STREAMS.control,
      createEnvelope('control.ControlAction', { ts: Date.now() / 1000, ...payload }, { track }),
    );
  const auditCount = (n: number) => waitFor(() => audits.length >= n, 10_000, `${n} audit entries`);

  beforeEach(() => {
    registry = new Registry();
    bus = createEventBus({ backend: 'inmem', namespace: 'ctltest', track: 'v2' }) as PulseBus;
    coordinator = new RateCoordinator();
    coordinator.registerProvider('ibkr', { rate: 100, burst: 10 });
    coordinator.registerProvider('synthetic', { rate: 10, burst: 10 });
    // startFrom 0: the group may be created after the first action is sent (the default `$` would skip it).
    consumer = new ControlConsumer(bus, coordinator, {
      consumer: 'pipeline-1',
      blockMs: 20,
      startFrom: '0',
      metrics: new PipelineMetrics(registry),
    });
    consumer.start();
    audits = [];
    auditSub = bus.subscribe<AuditEnvelope>(
      { stream: STREAMS.audit, group: 'auditor', consumer: 'a', blockMs: 20 },
      (e) => void audits.push(e),
    );
  });

  afterEach(async () => {
    await auditSub.close();
    await consumer.stop();
    await bus.close();
  });

  it('pauses and resumes every provider (v1 message without a provider) and audits each action', async () => {
    await send({ action: 'pause', target: 'pipeline' }, 'v1');
    await auditCount(1);
    expect(coordinator.snapshots().map((s) => s.paused)).toEqual([true, true]);
    await send({ action: 'resume' }, 'v1');
    await auditCount(2);
    expect(coordinator.snapshots().map((s) => s.paused)).toEqual([false, false]);
    expect(audits.map((a) => a.payload)).toEqual([
      expect.objectContaining({
        actor: 'pipeline-1',
        role: 'pipeline',
        action: 'pause',
        operation: 'pause',
        result: { status: 'ok', outcome: 'ok', detail: 'paused ibkr, synthetic' },
        target: 'pipeline',
      }),
      expect.objectContaining({
        actor: 'pipeline-1',
        role: 'pipeline',
        action: 'resume',
        operation: 'resume',
        result: { status: 'ok', outcome: 'ok', detail: 'resumed ibkr, synthetic' },
        target: 'pipeline',
      }),
    ]);
    expect(audits[0].meta.schema_id).toBe('telemetry.AuditEnvelope');
  });

  it('set_scale changes one provider and the audit links back to the request', async () => {
    await send({
      action: 'set_scale',
      provider: 'ibkr',
      scale: 0.25,
      actor: 'alice',
      correlation_id: 'req-7',
    });
    await auditCount(1);
    expect(coordinator.snapshot('ibkr')).toMatchObject({ scale: 0.25, effectiveRate: 25 });
    expect(coordinator.snapshot('synthetic').scale).toBe(1);
    expect(audits[0].payload).toMatchObject({
      action: 'reload',
      operation: 'set_scale',
      result: { status: 'ok', outcome: 'ok' },
      target: 'provider:ibkr',
      correlation_id: 'req-7',
      attributes: { requested_by: 'alice' },
    });
  });

  it('pause of one named provider leaves the others running', async () => {
    await send({ action: 'pause', provider: 'synthetic' });
    await auditCount(1);
    expect(coordinator.snapshot('synthetic').paused).toBe(true);
    expect(coordinator.snapshot('ibkr').paused).toBe(false);
  });

  it('rejects (and audits) unknown providers and actions it cannot perform, changing nothing', async () => {
    await send({ action: 'set_scale', provider: 'nope', scale: 0.5 });
    await send({ action: 'reload' });
    await send({ action: 'self_destruct' });
    await auditCount(3);
    expect(
      audits.map((a) => [
        a.payload.operation,
        a.payload.action,
        a.payload.result.status,
        a.payload.result.outcome,
      ]),
    ).toEqual([
      ['set_scale', 'reload', 'error', 'rejected'],
      ['reload', 'reload', 'error', 'rejected'],
      ['self_destruct', 'reload', 'error', 'rejected'],
    ]);
    expect(audits[0].payload.result.detail).toMatch(/unknown provider "nope"/);
    expect(audits[2].payload.result.detail).toMatch(/unsupported control action/);
    expect(coordinator.snapshots().every((s) => s.scale === 1 && !s.paused)).toBe(true);
    expect(
      (await registry.getSingleMetric('pipeline_control_actions_total')!.get()).values.find(
        (v) => v.labels.action === 'reload',
      )?.value,
    ).toBe(1);
  });

  it('ignores actions aimed at another service', async () => {
    await send({ action: 'pause', target: 'store' });
    await send({ action: 'pause', target: 'provider:ibkr' });
    await auditCount(1);
    expect(audits).toHaveLength(1);
    expect(audits[0].payload.target).toBe('provider:ibkr');
    expect(coordinator.snapshot('ibkr').paused).toBe(true);
    expect(coordinator.snapshot('synthetic').paused).toBe(false);
  });
});
