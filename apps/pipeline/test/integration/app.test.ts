import type { AuditEnvelope, EventEnvelope } from '@mdp/contracts';
import { createEnvelope, createEventBus, PulseBus } from '@mdp/pulse';
import { ConfigError } from '@mdp/service-kit';
import request from 'supertest';
import { bootstrap, PipelineApp } from '../../src/bootstrap';
import { ProviderRouter } from '../../src/router/provider-router';
import { waitFor } from '../support/fake-clock';

const quiet = { LOG_LEVEL: 'silent' };

describe('pipeline app on a shared in-memory bus', () => {
  let bus: PulseBus;
  let svc: PipelineApp;
  const bars: EventEnvelope[] = [];

  beforeAll(async () => {
    bus = createEventBus({ backend: 'inmem', namespace: 'apptest' }) as PulseBus;
    bus.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 's', blockMs: 20 },
      (e) => void bars.push(e),
    );
    svc = await bootstrap({
      port: 0,
      bus,
      handleSignals: false,
      env: {
        ...quiet,
        PIPELINE_PROVIDERS: 'synthetic',
        PIPELINE_SYNTHETIC_RATE: '200',
        PIPELINE_SYNTHETIC_BURST: '10',
        PIPELINE_BATCH_SIZE: '5',
        PIPELINE_BATCH_FLUSH_MS: '20',
      },
    });
  });

  afterAll(async () => {
    await svc.close();
    await bus.close();
  });

  it('serves /health, /ready and /providers', async () => {
    const health = await request(svc.app.getHttpServer()).get('/health').expect(200);
    expect(health.body).toMatchObject({ service: 'pipeline' });
    expect(health.body.components.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['bus', 'providers', 'feedback_consumer', 'rate_coordinator']),
    );
    await request(svc.app.getHttpServer()).get('/ready').expect(200);
    const providers = await request(svc.app.getHttpServer()).get('/providers').expect(200);
    expect(providers.body).toEqual([
      expect.objectContaining({
        provider: 'synthetic',
        rate: 200,
        scale: 1,
        stream: expect.objectContaining({ status: 'running' }),
      }),
    ]);
  });

  it('publishes synthetic bars keyed by symbol on md.bars', async () => {
    await waitFor(() => bars.length >= 10, 10_000, 'bars');
    expect(bars[0]).toMatchObject({
      meta: { schema_id: 'md.Bar', track: 'v1', headers: { provider: 'synthetic' } },
    });
    expect(['AAPL', 'MSFT', 'SPY']).toContain(bars[0].key);
    expect(bars[0].key).toBe((bars[0].payload as { symbol: string }).symbol);
  });

  it('feedback throttles the provider and control actions are audited; metrics show it', async () => {
    const audits: EventEnvelope<AuditEnvelope>[] = [];
    const sub = bus.subscribe<AuditEnvelope>(
      { stream: 'telemetry.audit', group: 'orchestrator', consumer: 'o', blockMs: 20 },
      (e) => void audits.push(e),
    );
    const server = svc.app.getHttpServer();
    const scale = async () => (await request(server).get('/providers')).body[0];

    await bus.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', {
        coordinator_id: 'store',
        queue_size: 95,
        capacity: 100,
        level: 'hard',
        source: 'store',
        ts: Date.now() / 1000,
      }),
    );
    await waitFor(async () => (await scale()).scale === 0, 10_000, 'scale 0 after hard feedback');
    expect(await scale()).toMatchObject({ pressure: 'hard', effectiveRate: 0 });

    await bus.publish(
      'control.actions',
      createEnvelope(
        'control.ControlAction',
        { action: 'set_scale', provider: 'synthetic', scale: 0.5, ts: Date.now() / 1000 },
        { track: 'v2' },
      ),
    );
    await waitFor(() => audits.length === 1, 10_000, 'audit');
    expect(await scale()).toMatchObject({ scale: 0.5, effectiveRate: 100 });
    // On v1 the audit entry is the core's: set_scale travels as `reload`, the result as { status, detail }.
    expect(audits[0].meta.track).toBe('v1');
    expect(audits[0].payload).toEqual({
      actor: expect.any(String),
      role: 'pipeline',
      action: 'reload',
      result: { status: 'ok', detail: 'scale of synthetic set to 0.5' },
      ts: expect.any(Number),
    });
    await sub.close();

    const metrics = (await request(server).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(
      /pipeline_feedback_events_received_total\{source="store",level="hard"\} 1/,
    );
    expect(metrics).toMatch(
      /pipeline_rate_adjustments_total\{provider="synthetic",reason="hard"\} 1/,
    );
    expect(metrics).toMatch(/pulse_consume_total\{[^}]*outcome="success"[^}]*\} \d+/);
    expect(metrics).toMatch(/pulse_lag_seconds\{stream="apptest.telemetry.feedback"\}/);
    expect(metrics).toMatch(/pipeline_rate_scale\{provider="synthetic"\} 0.5/);
    expect(metrics).toMatch(/pipeline_published_records_total\{stream="md.bars"\} \d+/);
  });
});

describe('pipeline start-up', () => {
  it('stops with a clear message on invalid configuration', async () => {
    await expect(
      bootstrap({
        port: 0,
        handleSignals: false,
        env: { ...quiet, SCHEMA_TRACK: 'v9', PIPELINE_FB_SCALE_SOFT: 'half' },
      }),
    ).rejects.toThrow(ConfigError);
    await expect(
      bootstrap({ port: 0, handleSignals: false, env: { ...quiet, SCHEMA_TRACK: 'v9' } }),
    ).rejects.toThrow(/SCHEMA_TRACK: must be v1 or v2/);
  });

  it('runs on the in-process bus when Pulse is disabled, and says so on /health', async () => {
    const svc = await bootstrap({
      port: 0,
      handleSignals: false,
      env: { ...quiet, PIPELINE_PROVIDERS: 'none', PULSE_ENABLED: 'false' },
    });
    try {
      expect(svc.connection.mode).toBe('inmem');
      const health = await request(svc.app.getHttpServer()).get('/health').expect(200);
      const busComponent = health.body.components.find((c: { name: string }) => c.name === 'bus');
      expect(busComponent).toMatchObject({
        state: 'degraded',
        details: { backend: 'inmem', reason: expect.stringMatching(/PULSE_ENABLED=false/) },
      });
      await request(svc.app.getHttpServer()).get('/ready').expect(200);
    } finally {
      await svc.close();
    }
  });

  it('with Redis unreachable stays on Redis (never an in-process bus): bus unhealthy, /ready 503', async () => {
    const svc = await bootstrap({
      port: 0,
      handleSignals: false,
      env: {
        ...quiet,
        PIPELINE_PROVIDERS: 'none',
        EVENT_BUS_BACKEND: 'redis',
        REDIS_URL: 'redis://127.0.0.1:1/0',
      },
    });
    try {
      expect(svc.connection.mode).toBe('redis');
      const ready = await request(svc.app.getHttpServer()).get('/ready').expect(503);
      const busComponent = ready.body.components.find((c: { name: string }) => c.name === 'bus');
      expect(busComponent).toMatchObject({ state: 'unhealthy', details: { backend: 'redis' } });
    } finally {
      await svc.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('stops the providers, then publishes every record already read', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: 'shutdowntest' }) as PulseBus;
    const svc = await bootstrap({
      port: 0,
      bus,
      handleSignals: false,
      // Batches never fill and the timer never fires: only the shutdown flush can publish.
      env: {
        ...quiet,
        PIPELINE_SYNTHETIC_RATE: '1000',
        PIPELINE_SYNTHETIC_BURST: '50',
        PIPELINE_BATCH_SIZE: '100000',
        PIPELINE_BATCH_FLUSH_MS: '3600000',
      },
    });
    const records = async () =>
      (await request(svc.app.getHttpServer()).get('/providers')).body[0].stream.records as number;
    await waitFor(async () => (await records()) >= 50, 10_000, 'records read');
    const received: EventEnvelope[] = [];
    const sub = bus.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 's', blockMs: 20 },
      (e) => void received.push(e),
    );
    expect(received).toHaveLength(0);
    const router = svc.app.get(ProviderRouter);
    await svc.close();
    const read = router.states()[0].records;
    expect(router.states()[0].status).toBe('stopped');
    await waitFor(() => received.length === read, 10_000, `all ${read} records delivered`);
    await sub.close();
    await bus.close();
  });
});
