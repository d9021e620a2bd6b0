import request from 'supertest';
import { uniqueId } from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { quietEnv } from './helpers';

describe('orchestrator HTTP surface', () => {
  let orch: OrchestratorHandle;

  beforeAll(async () => {
    orch = await bootstrap({ port: 0, handleSignals: false, env: quietEnv(uniqueId('orch_http')) });
  });
  afterAll(() => orch?.close());

  it('listens on the port it was given (0 = any free one) and reports it', () => {
    expect(orch.port).toBeGreaterThan(0);
  });

  it('GET /health: 200 HealthStatus for the orchestrator with bus and observer components', async () => {
    const res = await request(orch.app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({ service: 'orchestrator', state: 'healthy', version: expect.any(String) });
    expect(typeof res.body.ts).toBe('number');
    const names = res.body.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['bus', 'observer']));
    expect(res.body.components.find((c: { name: string }) => c.name === 'bus').details).toMatchObject({ backend: 'inmem', requested: 'inmem' });
  });

  it('GET /ready: 200 once the observer is subscribed', async () => {
    const res = await request(orch.app.getHttpServer()).get('/ready').expect(200);
    expect(res.body.components.find((c: { name: string }) => c.name === 'observer')).toMatchObject({ state: 'healthy' });
  });

  it('GET /metrics: Prometheus text with the observer, bus and Node default series', async () => {
    const res = await request(orch.app.getHttpServer()).get('/metrics').expect(200);
    expect(res.text).toContain('# TYPE orchestrator_observed_events_total counter');
    expect(res.text).toContain('# TYPE pulse_consume_total counter');
    expect(res.text).toContain('# TYPE orchestrator_observed_lag_ms histogram');
    expect(res.text).toContain('process_cpu_user_seconds_total');
  });

  // Prometheus 3 rejects a scrape without its text-format content type.
  it('GET /metrics answers with the Prometheus text content type', async () => {
    const res = await request(orch.app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
  });

  it('GET /status: the observer, its group and both telemetry streams, nothing seen yet', async () => {
    const res = await request(orch.app.getHttpServer()).get('/status').expect(200);
    const { observer } = res.body;
    expect(observer).toMatchObject({ enabled: true, running: true, backend: 'inmem', group: 'orchestrator', track: 'v1' });
    expect(Object.keys(observer.streams).sort()).toEqual(['telemetry.feedback', 'telemetry.rate_adjustment']);
    expect(observer.streams['telemetry.feedback']).toMatchObject({
      physical_stream: `${observer.namespace}.telemetry.feedback`,
      schema_id: 'telemetry.FeedbackEvent',
      events: { ok: 0, invalid: 0 },
      last_event: null,
    });
  });

  it('GET /topology/scale: the md.* streams, their partitions, shards and store instances', async () => {
    const res = await request(orch.app.getHttpServer()).get('/topology/scale').expect(200);
    expect(res.body).toMatchObject({ group: 'store', partitions: 1, shards: [], instances: [] });
    expect(Object.keys(res.body.streams).sort()).toEqual(['md.bars', 'md.fundamentals', 'md.news', 'md.options']);
    expect(res.body.streams['md.bars']).toEqual([{ stream: `${res.body.namespace}.md.bars`, length: 0, pending: 0, consumers: [] }]);
  });

  it('unknown routes are 404, not 500', async () => {
    await request(orch.app.getHttpServer()).get('/nope').expect(404);
  });
});
