import Redis from 'ioredis';
import request from 'supertest';
import { createEnvelope, createEventBus, EventBus } from '@mdp/pulse';
import {
  deleteRedisPrefix,
  describeWithRedis,
  redisUrl,
  sharedRedisEnv,
  uniqueId,
} from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { statusWhen } from './helpers';

describeWithRedis('observer on the Redis Streams bus', () => {
  const namespace = uniqueId('orch_redis');
  let publisher: EventBus;
  let orch: OrchestratorHandle;

  beforeAll(async () => {
    publisher = createEventBus({ backend: 'redis', redisUrl: redisUrl(), namespace, track: 'v2' });
    orch = await bootstrap({
      port: 0,
      handleSignals: false,
      env: {
        ...sharedRedisEnv(namespace),
        ORCH_PGLITE_DIR: 'memory://',
      },
    });
  });

  afterAll(async () => {
    await orch?.close();
    await publisher?.close();
    const redis = new Redis(redisUrl());
    await deleteRedisPrefix(redis, namespace);
    redis.disconnect();
  });

  it('runs on Redis (not degraded) and observes feedback published by another process-side bus', async () => {
    const event = {
      coordinator_id: 'bars',
      queue_size: 10,
      capacity: 100,
      level: 'ok',
      source: 'store',
      ts: Date.now() / 1000,
      utilization: 0.1,
    };
    await publisher.publish(
      'telemetry.feedback',
      createEnvelope('telemetry.FeedbackEvent', event, { key: 'bars', track: 'v2' }),
    );
    const status = await statusWhen(
      orch.app,
      (s) => s.observer.streams['telemetry.feedback'].events.ok === 1,
    );
    expect(status.observer).toMatchObject({
      backend: 'redis',
      requested: 'redis',
      degraded_reason: null,
      namespace,
    });
    expect(status.observer.streams['telemetry.feedback'].last_event).toMatchObject({
      track: 'v2',
      key: 'bars',
    });
    // The bus this service created reports into the service's registry.
    const metrics = (await request(orch.app.getHttpServer()).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/pulse_consume_total\{[^}]*outcome="success"[^}]*\} 1/);
    expect(metrics).toContain(
      'orchestrator_observed_events_total{stream="telemetry.feedback",track="v2",outcome="ok"} 1',
    );
  });
});
