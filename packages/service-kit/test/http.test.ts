import { Body, Controller, INestApplication, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry, Counter } from 'prom-client';
import request from 'supertest';
import { z } from 'zod';
import { HealthRegistry } from '../src/health';
import { HealthModule } from '../src/health.module';
import { MetricsModule } from '../src/metrics.module';
import { ZodBodyPipe } from '../src/validation';

const Thing = z.object({ capacity: z.number().gt(0, { error: 'must be > 0' }) });

@Controller()
class ThingController {
  @Post('things')
  create(@Body(new ZodBodyPipe(Thing)) body: z.infer<typeof Thing>) {
    return body;
  }
}

@Module({ controllers: [ThingController] })
class ThingModule {}

describe('health, readiness, metrics and body validation over HTTP', () => {
  let app: INestApplication;
  let health: HealthRegistry;
  let dbState: 'healthy' | 'unhealthy' = 'healthy';
  const registry = new Registry();

  beforeAll(async () => {
    new Counter({ name: 'probe_total', help: 'probe', registers: [registry] }).inc(3);
    const moduleRef = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot({ service: 'svc', version: '1.2.3', checkTimeoutMs: 200 }),
        MetricsModule.forRoot({ registry }),
        ThingModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    health = app.get(HealthRegistry);
    health.register('database', () => ({ state: dbState, details: { url: 'x' } }));
    health.register('cache', () => ({ state: 'degraded' }), { readiness: false });
  });

  afterAll(() => app.close());

  it('/health is 200 with a HealthStatus and the worst component state', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({ service: 'svc', version: '1.2.3', state: 'degraded' });
    expect(typeof res.body.ts).toBe('number');
    expect(res.body.components).toEqual([
      { name: 'database', state: 'healthy', details: { url: 'x' } },
      { name: 'cache', state: 'degraded', details: {} },
    ]);
    expect(res.body.ready).toBeUndefined();
  });

  it('/ready is 503 while a readiness component is unhealthy, 200 otherwise', async () => {
    await request(app.getHttpServer()).get('/ready').expect(200);
    dbState = 'unhealthy';
    const res = await request(app.getHttpServer()).get('/ready').expect(503);
    expect(res.body.state).toBe('unhealthy');
    dbState = 'healthy';
  });

  it('a hanging or throwing check is reported unhealthy, not hung', async () => {
    health.register('slow', () => new Promise(() => undefined), { readiness: false });
    health.register(
      'boom',
      () => {
        throw new Error('kaput');
      },
      { readiness: false },
    );
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    const byName = Object.fromEntries(
      res.body.components.map((c: { name: string }) => [c.name, c]),
    );
    expect(byName.slow).toMatchObject({
      state: 'unhealthy',
      details: { error: 'check timed out after 200 ms' },
    });
    expect(byName.boom).toMatchObject({ state: 'unhealthy', details: { error: 'kaput' } });
    health.unregister('slow');
    health.unregister('boom');
  });

  it('/metrics serves the injected registry in Prometheus text format', async () => {
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(res.text).toContain('probe_total 3');
  });

  it('junk bodies get a 400 with readable problems', async () => {
    const bad = await request(app.getHttpServer())
      .post('/things')
      .send({ capacity: 0 })
      .expect(400);
    expect(bad.body.message).toEqual(['capacity: must be > 0']);
    await request(app.getHttpServer())
      .post('/things')
      .set('content-type', 'application/json')
      .send('{not json')
      .expect(400);
    await request(app.getHttpServer())
      .post('/things')
      .send({ capacity: 2 })
      .expect(201, { capacity: 2 });
  });
});
