import { createEnvelope } from '@mdp/pulse';
import Redis from 'ioredis';
import {
  deleteRedisPrefix,
  describeWithRedis,
  redisUrl,
  RedisServer,
  TcpProxy,
  uniqueId,
} from '@mdp/testing';
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

describeWithRedis('MD_PARTITIONS must agree across the services of a namespace', () => {
  it('the first service records its value; one started with another value is refused with a clear message', async () => {
    const namespace = uniqueId('parts');
    const vars = { EVENT_BUS_BACKEND: 'redis', REDIS_URL: redisUrl(), MD_NAMESPACE: namespace };
    const first = await connectBus(parseEnv(SharedEnv, { ...vars, MD_PARTITIONS: '6' }));
    expect(first.mode).toBe('redis');
    const same = await connectBus(parseEnv(SharedEnv, { ...vars, MD_PARTITIONS: '6' }));
    expect(same.mode).toBe('redis');
    await expect(connectBus(parseEnv(SharedEnv, { ...vars, MD_PARTITIONS: '4' }))).rejects.toThrow(
      `MD_PARTITIONS: 4 here, but the services of namespace "${namespace}" use 6`,
    );
    await expect(connectBus(parseEnv(SharedEnv, vars))).rejects.toThrow(
      /MD_PARTITIONS: 1 here, but .* use 6/,
    );
    // A partitioned bus publishes md.* by key to `{<ns>.md.bars.p<N>}`.
    expect((first.bus as import('@mdp/pulse').PulseBus).physicalStreams('md.bars')).toHaveLength(6);
    await first.bus.close();
    await same.bus.close();
    const raw = new Redis(redisUrl());
    await deleteRedisPrefix(raw, namespace);
    await raw.quit();
  });

  it('REDIS_CLUSTER_NODES must be a host:port list', () => {
    expect(() => parseEnv(SharedEnv, { REDIS_CLUSTER_NODES: 'redis://a:1' })).toThrow(
      /REDIS_CLUSTER_NODES: must be a comma list of host:port/,
    );
    expect(
      parseEnv(SharedEnv, { REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' })
        .REDIS_CLUSTER_NODES,
    ).toBe('127.0.0.1:7000, 127.0.0.1:7001');
  });

  it('started while Redis is away: checked once it answers, and a mismatch keeps the service unready', async () => {
    const namespace = uniqueId('parts');
    const raw = new Redis(redisUrl());
    await raw.set(`${namespace}.settings.md_partitions`, '6');
    const shared = new URL(redisUrl());
    const proxy = new TcpProxy(shared.hostname, Number(shared.port || 6379));
    await proxy.up();
    const url = proxy.rewrite(redisUrl());
    await proxy.down();
    const conn = await connectBus(
      parseEnv(SharedEnv, {
        EVENT_BUS_BACKEND: 'redis',
        REDIS_URL: url,
        MD_NAMESPACE: namespace,
        MD_PARTITIONS: '4',
      }),
      { pingTimeoutMs: 300 },
    );
    expect(conn.mode).toBe('redis');
    await proxy.up();
    for (let i = 0; i < 200 && !conn.misconfigured; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(conn.misconfigured).toMatch(
      /MD_PARTITIONS: 4 here, but the services of namespace .* use 6/,
    );
    expect(await busHealth(conn)).toMatchObject({
      state: 'unhealthy',
      details: { error: expect.stringMatching(/^MD_PARTITIONS: 4/) },
    });
    await conn.bus.close();
    await proxy.down();
    await deleteRedisPrefix(raw, namespace);
    await raw.quit();
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
