import { createEnvelope } from '@mdp/pulse';
import { describeWithRedis, redisUrl, RedisServer, uniqueId } from '@mdp/testing';
import { busHealth, connectBus, redact, registerBusHealth } from '../src/bus';
import { HealthRegistry } from '../src/health';
import { parseEnv, SharedEnv } from '../src/config';

const env = (vars: Record<string, string>) =>
  parseEnv(SharedEnv, { MD_NAMESPACE: uniqueId(), ...vars });

describe('connectBus degrades instead of crashing', () => {
  it('PULSE_ENABLED=false runs on an in-process bus and says why', async () => {
    const conn = await connectBus(env({ PULSE_ENABLED: 'false', EVENT_BUS_BACKEND: 'redis' }));
    expect(conn).toMatchObject({
      mode: 'inmem',
      requested: 'disabled',
      degradedReason: 'PULSE_ENABLED=false',
      owned: true,
    });
    expect(await busHealth(conn)).toMatchObject({
      state: 'degraded',
      details: { backend: 'inmem', requested: 'disabled' },
    });
    await conn.bus.close();
  });

  it('an existing bus is reused and not owned', async () => {
    const first = await connectBus(env({}));
    const second = await connectBus(env({ EVENT_BUS_BACKEND: 'redis' }), { bus: first.bus });
    expect(second).toMatchObject({ mode: 'inmem', owned: false });
    expect(second.bus).toBe(first.bus);
    await first.bus.close();
  });

  it('redacts passwords in logged URLs', () => {
    expect(redact('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
  });
});

describeWithRedis('connectBus on a live Redis', () => {
  it('connects and reports healthy', async () => {
    const conn = await connectBus(env({ EVENT_BUS_BACKEND: 'redis', REDIS_URL: redisUrl() }));
    expect(conn).toMatchObject({ mode: 'redis', requested: 'redis', owned: true });
    expect(conn.degradedReason).toBeUndefined();
    expect((await busHealth(conn)).state).toBe('healthy');
    await conn.bus.close();
  });
});

describe('connectBus with EVENT_BUS_BACKEND=redis never runs on another bus', () => {
  let redis: RedisServer;
  beforeEach(async () => {
    redis = await RedisServer.create();
  });
  afterEach(async () => {
    await redis.stop();
  });

  const feedback = (n: number) =>
    createEnvelope(
      'telemetry.FeedbackEvent',
      { coordinator_id: 'c', queue_size: n, capacity: 2, level: 'ok', source: 'store', ts: 1 },
      { key: 'c' },
    );
  const until = async (cond: () => boolean | Promise<boolean>, what: string, ms = 15_000) => {
    const start = Date.now();
    while (!(await cond())) {
      if (Date.now() - start > ms) throw new Error(`${what} not met within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('Redis down at start: not ready and bus unhealthy, then it connects, creates its groups and works; a later outage is not ready again', async () => {
    const conn = await connectBus(env({ EVENT_BUS_BACKEND: 'redis', REDIS_URL: redis.url }), {
      pingTimeoutMs: 300,
    });
    expect(conn).toMatchObject({ mode: 'redis', requested: 'redis', owned: true });
    expect(conn.degradedReason).toBeUndefined();
    const health = new HealthRegistry('svc', '0');
    registerBusHealth(health, conn);
    const status = await health.status();
    expect(status.ready).toBe(false);
    expect(status.components.find((c) => c.name === 'bus')).toMatchObject({
      state: 'unhealthy',
      details: { backend: 'redis' },
    });

    // A subscription made while Redis is down starts working once Redis is there.
    const seen: number[] = [];
    const sub = conn.bus.subscribe<{ queue_size: number }>(
      { stream: 'probe', group: 'g', consumer: 'c', blockMs: 50 },
      (e) => void seen.push(e.payload.queue_size),
    );
    await new Promise((r) => setTimeout(r, 300));
    await redis.start();
    await until(async () => (await health.status()).ready, 'ready once Redis is up');
    await conn.bus.publish('probe', feedback(1));
    await until(() => seen.length === 1, 'delivery after Redis came up');

    await redis.kill('SIGTERM');
    await until(async () => !(await health.status()).ready, 'not ready during a later outage');
    expect((await busHealth(conn)).state).toBe('unhealthy');
    await redis.start();
    await until(async () => (await health.status()).ready, 'ready again');
    await conn.bus.publish('probe', feedback(2));
    await until(() => seen.length === 2, 'delivery after the outage');
    expect(seen).toEqual([1, 2]);
    await sub.close();
    await conn.bus.close();
  });
});
