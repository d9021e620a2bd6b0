import request from 'supertest';
import { uniqueId } from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { quietEnv, until } from './helpers';

describe('orchestrator HTTP surface', () => {
  let orch: OrchestratorHandle;

  beforeAll(async () => {
    orch = await bootstrap({ port: 0, handleSignals: false, env: quietEnv(uniqueId('orch_http')) });
    await until(
      async () =>
        (await request(orch.app.getHttpServer()).get('/ready')).status === 200 ? true : undefined,
      'ready (audit_log created)',
    );
  });
  afterAll(() => orch?.close());

  it('listens on the port it was given (0 = any free one) and reports it', () => {
    expect(orch.port).toBeGreaterThan(0);
  });

  it('GET /health: 200 HealthStatus for the orchestrator with bus and observer components', async () => {
    const res = await request(orch.app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({
      service: 'orchestrator',
      state: 'healthy',
      version: expect.any(String),
    });
    expect(typeof res.body.ts).toBe('number');
    const names = res.body.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['bus', 'observer']));
    expect(
      res.body.components.find((c: { name: string }) => c.name === 'bus').details,
    ).toMatchObject({ backend: 'inmem', requested: 'inmem' });
  });

  it('GET /ready: 200 once the observer is subscribed', async () => {
    const res = await request(orch.app.getHttpServer()).get('/ready').expect(200);
    expect(res.body.components.find((c: { name: string }) => c.name === 'observer')).toMatchObject({
      state: 'healthy',
    });
  });

  it('GET /metrics: Prometheus text with the observer, bus and Node default series', async () => {
    const res = await request(orch.app.getHttpServer()).get('/metrics').expect(200);
    expect(res.text).toContain('# TYPE orchestrator_observed_events_total counter');
    expect(res.text).toContain('# TYPE pulse_consume_total counter');
    expect(res.text).toContain('# TYPE orchestrator_observed_lag_seconds histogram');
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('# TYPE orchestrator_audit_events_total counter');
    expect(res.text).toContain('# TYPE orchestrator_control_actions_total counter');
    expect(res.text).toContain('# TYPE orchestrator_stream_pending gauge');
    expect(res.text).toContain('# TYPE orchestrator_stream_lag gauge');
  });

  // Prometheus 3 rejects a scrape without its text-format content type.
  it('GET /metrics answers with the Prometheus text content type', async () => {
    const res = await request(orch.app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
  });

  it('GET /status: the observer, its group and the four telemetry streams it reads', async () => {
    const res = await request(orch.app.getHttpServer()).get('/status').expect(200);
    const { observer } = res.body;
    expect(observer).toMatchObject({
      enabled: true,
      running: true,
      backend: 'inmem',
      group: 'orchestrator',
      track: 'v1',
    });
    expect(Object.keys(observer.streams).sort()).toEqual([
      'telemetry.audit',
      'telemetry.feedback',
      'telemetry.health',
      'telemetry.rate_adjustment',
    ]);
    expect(observer.streams['telemetry.feedback']).toMatchObject({
      physical_stream: `${observer.namespace}.telemetry.feedback`,
      schema_id: 'telemetry.FeedbackEvent',
      events: { ok: 0, invalid: 0 },
      last_event: null,
    });
  });

  it('unknown routes are 404, not 500', async () => {
    await request(orch.app.getHttpServer()).get('/nope').expect(404);
  });

  it('POST /control with ORCH_ADMIN_TOKEN unset: 403 "control disabled", even with a token, and audited', async () => {
    const res = await request(orch.app.getHttpServer())
      .post('/control')
      .set('Authorization', 'Bearer anything')
      .send({ action: 'pause', target: 'pipeline' })
      .expect(403);
    expect(res.body).toMatchObject({
      error: 'control disabled',
      detail: expect.stringMatching(/ORCH_ADMIN_TOKEN is not set/),
    });
    const page = await until(async () => {
      const body = (
        await request(orch.app.getHttpServer())
          .get(`/audit?correlation_id=${res.body.correlation_id}`)
          .expect(200)
      ).body;
      return body.entries.length ? body : undefined;
    }, 'the refusal audited');
    expect(page.entries).toEqual([
      expect.objectContaining({
        kind: 'control_request',
        action: 'pause',
        status: 'error',
        outcome: 'rejected',
        attributes: expect.objectContaining({ refused: 'forbidden' }),
      }),
    ]);
  });

  it('GET /: the cockpit page, its script and the vendored chart library', async () => {
    const page = await request(orch.app.getHttpServer()).get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<title>mdp cockpit</title>');
    const chart = await request(orch.app.getHttpServer()).get('/cockpit/uplot.js').expect(200);
    expect(chart.text).toContain('uPlot');
    await request(orch.app.getHttpServer())
      .get('/cockpit/app.js')
      .expect(200)
      .expect('Content-Type', /javascript/);
    await request(orch.app.getHttpServer()).get('/cockpit/..%2Fpackage.json').expect(404);
    const snap = (await request(orch.app.getHttpServer()).get('/cockpit/snapshot').expect(200))
      .body;
    expect(snap).toMatchObject({
      control_enabled: false,
      cluster: { service: 'cluster' },
      streams: expect.any(Array),
      audit: expect.any(Array),
    });
  });

  it('GET /topology on the in-memory bus: the known streams and groups, and this orchestrator from its heartbeat', async () => {
    const topo = await until(async () => {
      const body = (await request(orch.app.getHttpServer()).get('/topology').expect(200)).body;
      return body.nodes.length ? body : undefined;
    }, 'a node in the topology');
    expect(topo.nodes[0]).toMatchObject({
      role: 'orchestrator',
      health: expect.any(String),
      silent: false,
    });
    expect(topo.streams.map((s: { name: string }) => s.name)).toEqual(
      expect.arrayContaining(['md.bars', 'control.actions', 'telemetry.audit']),
    );
  });
});
