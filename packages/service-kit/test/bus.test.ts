import { createEnvelope } from '@mdp/pulse';
import Redis from 'ioredis';
import { deleteRedisPrefix, describeWithRedis, redisUrl, uniqueId } from '@mdp/testing';
import { busHealth, connectBus, redact } from '../src/bus';
import { parseEnv, SharedEnv } from '../src/config';

const env = (vars: Record<string, string>) => parseEnv(SharedEnv, { MD_NAMESPACE: uniqueId(), ...vars });

describe('connectBus degrades instead of crashing', () => {
  it('PULSE_ENABLED=false runs on an in-process bus and says why', async () => {
    const conn = await connectBus(env({ PULSE_ENABLED: 'false', EVENT_BUS_BACKEND: 'redis' }));
    expect(conn).toMatchObject({ mode: 'inmem', requested: 'disabled', degradedReason: 'PULSE_ENABLED=false', owned: true });
    expect(await busHealth(conn)).toMatchObject({ state: 'degraded', details: { backend: 'inmem', requested: 'disabled' } });
    await conn.bus.close();
  });

  it('an unreachable Redis falls back to the in-memory bus, which still works', async () => {
    const conn = await connectBus(env({ EVENT_BUS_BACKEND: 'redis', REDIS_URL: 'redis://127.0.0.1:1/0' }), { pingTimeoutMs: 1500 });
    expect(conn.mode).toBe('inmem');
    expect(conn.requested).toBe('redis');
    expect(conn.degradedReason).toMatch(/^Redis unreachable at start/);
    const seen: string[] = [];
    const sub = conn.bus.subscribe({ stream: 'probe', group: 'g', consumer: 'c' }, (e) => void seen.push(e.id));
    const e = createEnvelope('telemetry.FeedbackEvent', { coordinator_id: 'c', queue_size: 1, capacity: 2, level: 'ok', source: 'store', ts: 1 }, { key: 'c' });
    await conn.bus.publish('probe', e);
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([e.id]);
    await sub.close();
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
    await expect(connectBus(parseEnv(SharedEnv, vars))).rejects.toThrow(/MD_PARTITIONS: 1 here, but .* use 6/);
    // A partitioned bus publishes md.* by key to `{<ns>.md.bars.p<N>}`.
    expect((first.bus as import('@mdp/pulse').PulseBus).physicalStreams('md.bars')).toHaveLength(6);
    await first.bus.close();
    await same.bus.close();
    const raw = new Redis(redisUrl());
    await deleteRedisPrefix(raw, namespace);
    await raw.quit();
  });

  it('REDIS_CLUSTER_NODES must be a host:port list', () => {
    expect(() => parseEnv(SharedEnv, { REDIS_CLUSTER_NODES: 'redis://a:1' })).toThrow(/REDIS_CLUSTER_NODES: must be a comma list of host:port/);
    expect(parseEnv(SharedEnv, { REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' }).REDIS_CLUSTER_NODES).toBe('127.0.0.1:7000, 127.0.0.1:7001');
  });
});
