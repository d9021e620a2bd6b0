/**
 * Pulse on a Redis Cluster of its own (3 masters on free ports, stopped after the suite): partitions
 * spread over the shards, each partition read from its slot owner, resharding while consuming,
 * dead letters of a stream whose DLQ lives in another slot, and the scale-out helpers (settings,
 * leases, idle-consumer pruning) on the cluster.
 */
import { Cluster } from 'ioredis';
import { describeWithRedis, RedisCluster, uniqueId } from '@mdp/testing';
import {
  createEnvelope,
  createEventBus,
  partitionOf,
  partitionStream,
  type PulseBus,
} from '../src';
import { Bridge } from '../src/bridge/bridge';
import { calculateSlot } from '../src/redis/slot';
import { barEnvelope, waitFor } from './helpers';

describeWithRedis('pulse on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let raw: Cluster;
  let ns: string;
  let buses: PulseBus[];
  let warnings: string[];
  const logger = {
    warn: (o: object, msg?: string) => void warnings.push(`${msg}: ${JSON.stringify(o)}`),
    error: (o: object, msg?: string) => void warnings.push(`${msg}: ${JSON.stringify(o)}`),
  };

  const bus = (partitions = 6) => {
    const b = createEventBus({
      backend: 'redis',
      clusterNodes: cluster.seeds,
      namespace: ns,
      partitions: { 'md.bars': partitions },
      logger,
    });
    buses.push(b);
    return b;
  };

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    raw = new Cluster(
      cluster.addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })),
    );
  }, 60_000);
  afterAll(async () => {
    raw?.disconnect();
    await cluster?.stop();
  });
  beforeEach(() => {
    ns = uniqueId('pc');
    buses = [];
    warnings = [];
  });
  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  it('publishes each key to its partition, spread over the masters, and a consumer reads every partition', async () => {
    const b = bus();
    const symbols = Array.from({ length: 40 }, (_, i) => `S${i}`);
    await b.publishBatch(
      'md.bars',
      symbols.map((s, i) => barEnvelope(i, s)),
    );
    const owners = new Set<number>();
    for (let p = 0; p < 6; p++)
      owners.add((await cluster.owner(calculateSlot(partitionStream(ns, 'md.bars', p)))).port);
    expect(owners.size).toBeGreaterThan(1);

    const got: string[] = [];
    // A short reclaim interval: the reclaim cycle (XAUTOCLAIM, group stats) runs often on every shard.
    b.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 'c1', blockMs: 100, reclaimIntervalMs: 20 },
      (env) => void got.push((env.payload as { symbol: string }).symbol),
    );
    await waitFor(() => got.length >= symbols.length, 'every bar consumed');
    expect(got.sort()).toEqual([...symbols].sort());
    await waitFor(
      async () => (await b.groupStats('md.bars', 'store')).pending === 0,
      'every delivery acked',
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(warnings).toEqual([]);

    const topology = await b.streamTopology('md.bars', 'store');
    expect(topology).toHaveLength(6);
    for (const [p, part] of topology.entries()) {
      const slot = calculateSlot(partitionStream(ns, 'md.bars', p));
      expect(part).toMatchObject({ stream: partitionStream(ns, 'md.bars', p), slot, pending: 0 });
      expect(part.node).toBe(`127.0.0.1:${(await cluster.owner(slot)).port}`);
      expect(part.consumers.map((c) => c.name)).toEqual(['c1']);
    }
    expect(topology.reduce((n, part) => n + part.length, 0)).toBe(symbols.length);
    const empty = await b.streamTopology('md.options', 'store');
    expect(empty.map((p) => [p.length, p.pending, p.consumers])).toEqual([[0, 0, []]]);
  });

  it('loses and repeats nothing while the slot of a partition moves to another master', async () => {
    const b = bus();
    const total = 3000;
    const handled = new Map<string, number>();
    b.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 'c1', blockMs: 100, batchSize: 50 },
      async (env) => {
        handled.set(env.id, (handled.get(env.id) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
      },
    );
    const slot = calculateSlot(partitionStream(ns, 'md.bars', 0));
    const from = await cluster.owner(slot);
    const to = (await cluster.nodes()).find((n) => n.id !== from.id)!;
    const firstOfOwner = from.slots.find(([a, z]) => slot >= a && slot <= z)![0];
    // Publish while the reshard runs: redis-cli moves the owner's lowest slots, up to and with this one.
    const publishing = (async () => {
      for (let i = 0; i < total; i += 100) {
        await b.publishBatch(
          'md.bars',
          Array.from({ length: 100 }, (_, k) => barEnvelope(i + k, `K${(i + k) % 60}`)),
        );
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await cluster.reshard(from, to, slot - firstOfOwner + 1);
    await publishing;
    expect((await cluster.owner(slot)).id).toBe(to.id);
    await waitFor(() => handled.size >= total, `all ${total} handled`, 30_000).catch(
      async (err) => {
        const topology = await b.streamTopology('md.bars', 'store');
        throw new Error(
          `${err.message}: got ${handled.size}; ${JSON.stringify(topology)}; warnings ${warnings.join(' | ')}`,
        );
      },
    );
    expect([...handled.values()].filter((n) => n > 1)).toEqual([]);
    await waitFor(
      async () => (await b.groupStats('md.bars', 'store')).pending === 0,
      'nothing pending',
      10_000,
    );
  }, 60_000);

  it("reads through ASK from the importing node while a partition's slot is being migrated", async () => {
    const b = bus();
    const stream = partitionStream(ns, 'md.bars', 0);
    const slot = calculateSlot(stream);
    const from = await cluster.owner(slot);
    const nodes = await cluster.nodes();
    const to = nodes.find((n) => n.id !== from.id)!;
    const handled = new Map<string, number>();
    b.subscribe(
      { stream: 'md.bars', partitions: [0], group: 'store', consumer: 'c1', blockMs: 100 },
      (env) => {
        handled.set(env.id, (handled.get(env.id) ?? 0) + 1);
      },
    );
    const keyOf0 = Array.from({ length: 200 }, (_, i) => `A${i}`).filter(
      (k) => partitionOf(k, 6) === 0,
    );
    await b.publishBatch(
      'md.bars',
      keyOf0.map((k, i) => barEnvelope(i, k)),
    );
    await waitFor(() => handled.size === keyOf0.length, 'entries before the migration');

    // By hand, as redis-cli --cluster reshard does it, but stopping half way: the key has moved, the
    // slot has not, so the old owner answers ASK.
    await cluster.cli(
      '-p',
      String(to.port),
      'cluster',
      'setslot',
      String(slot),
      'importing',
      from.id,
    );
    await cluster.cli(
      '-p',
      String(from.port),
      'cluster',
      'setslot',
      String(slot),
      'migrating',
      to.id,
    );
    await cluster.cli(
      '-p',
      String(from.port),
      'migrate',
      '127.0.0.1',
      String(to.port),
      stream,
      '0',
      '5000',
    );
    await b.publishBatch(
      'md.bars',
      keyOf0.map((k, i) => barEnvelope(1000 + i, k)),
    );
    await waitFor(
      () => handled.size === keyOf0.length * 2,
      'entries during the migration (through ASK)',
    );

    for (const n of nodes)
      await cluster.cli('-p', String(n.port), 'cluster', 'setslot', String(slot), 'node', to.id);
    await b.publishBatch(
      'md.bars',
      keyOf0.map((k, i) => barEnvelope(2000 + i, k)),
    );
    await waitFor(() => handled.size === keyOf0.length * 3, 'entries after the migration');
    expect([...handled.values()].filter((n) => n > 1)).toEqual([]);
    await waitFor(
      async () => (await b.groupStats('md.bars', 'store')).pending === 0,
      'nothing pending',
    );
  });

  it('stopReading stops every partition loop of a subscription', async () => {
    const b = bus();
    const got: string[] = [];
    const sub = b.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 'c1', blockMs: 50 },
      (env) => void got.push(env.id),
    );
    await b.publishBatch(
      'md.bars',
      Array.from({ length: 30 }, (_, i) => barEnvelope(i, `S${i}`)),
    );
    await waitFor(() => got.length === 30, 'the first 30');
    await sub.stopReading();
    await b.publishBatch(
      'md.bars',
      Array.from({ length: 30 }, (_, i) => barEnvelope(100 + i, `S${i}`)),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toHaveLength(30);
    await sub.close();
  });

  it('the group gauges are totals over every partition, also with one loop per partition', async () => {
    const b = bus();
    await b.publishBatch(
      'md.bars',
      Array.from({ length: 40 }, (_, i) => barEnvelope(i, `G${i}`)),
    );
    // Deliveries held, never settled: all 40 stay pending, spread over the partitions.
    b.subscribeBatch(
      {
        stream: 'md.bars',
        group: 'store',
        consumer: 'c1',
        blockMs: 50,
        reclaimIntervalMs: 20,
        minIdleMs: 60_000,
      },
      () => undefined,
    );
    const gauge = async () =>
      (await b.metrics.groupPending.get()).values.find((v) => v.labels.group === 'store')?.value;
    await waitFor(async () => (await gauge()) === 40, 'pulse_group_pending = 40');
  });

  it('dead-letters an entry of an unpartitioned stream whose DLQ hashes to another slot', async () => {
    const b = bus(1);
    const stream = `${ns}.telemetry.feedback`;
    expect(calculateSlot(stream)).not.toBe(calculateSlot(`${stream}.dlq`));
    await raw.xadd(stream, '*', 'envelope', '{not json');
    b.subscribe(
      { stream: 'telemetry.feedback', group: 'g', consumer: 'c1', blockMs: 100 },
      () => undefined,
    );
    await waitFor(
      async () => (await raw.xlen(`${stream}.dlq`)) === 1,
      'the poison entry in the DLQ',
    );
    await waitFor(
      async () => (await b.groupStats('telemetry.feedback', 'g')).pending === 0,
      'acked on the source',
    );
  });

  it('settings, leases and idle-consumer pruning work across the shards', async () => {
    const b = bus();
    expect(await b.claimSetting('md_partitions', '6')).toBe('6');
    expect(await b.claimSetting('md_partitions', '4')).toBe('6');
    expect(await b.holdLease('p', 'a', 5000)).toBe('a');
    expect(await b.holdLease('p', 'b', 5000)).toBe('a');
    await b.releaseLease('p', 'a');
    expect(await b.holdLease('p', 'b', 5000)).toBe('b');

    const stream = partitionStream(ns, 'md.bars', 0);
    await raw.xgroup('CREATE', stream, 'store', '0', 'MKSTREAM');
    await raw.xgroup('CREATECONSUMER', stream, 'store', 'gone-idle');
    await raw.xadd(stream, '*', 'x', '1');
    await raw.xreadgroup('GROUP', 'store', 'gone-holding', 'COUNT', 1, 'STREAMS', stream, '>');
    await new Promise((r) => setTimeout(r, 150));
    b.subscribe(
      {
        stream: 'md.bars',
        partitions: [0],
        group: 'store',
        consumer: 'live',
        blockMs: 50,
        minIdleMs: 60_000,
        reclaimIntervalMs: 50,
        consumerGraceMs: 100,
      },
      () => undefined,
    );
    const names = async () =>
      ((await raw.xinfo('CONSUMERS', stream, 'store')) as string[][]).map((c) => c[1]).sort();
    await waitFor(
      async () => !(await names()).includes('gone-idle'),
      'the idle consumer holding nothing removed',
    );
    expect(await names()).toEqual(['gone-holding', 'live']);
  });

  it("pulse-bridge copies a core entry to the mdp key once, its marker in the target key's slot", async () => {
    const b = bus(1);
    const coreKey = `${ns}:${ns}.telemetry.feedback`;
    const mdpKey = `${ns}.telemetry.feedback`;
    expect(calculateSlot(coreKey)).not.toBe(calculateSlot(mdpKey));
    const bridge = new Bridge({
      clusterNodes: cluster.seeds,
      namespace: ns,
      streams: ['telemetry.feedback'],
      directions: ['core-to-mdp'],
      blockMs: 20,
    });
    bridge.start();
    try {
      const event = {
        coordinator_id: 'store',
        queue_size: 5,
        capacity: 100,
        level: 'ok' as const,
        source: 'store',
        ts: 1_700_000_000,
      };
      await b.publish(
        'telemetry.feedback',
        createEnvelope('telemetry.FeedbackEvent', event, { key: 'store' }),
        { wire: 'core' },
      );
      await waitFor(async () => (await raw.xlen(mdpKey)) === 1, 'the copy on the mdp key');
      expect(bridge.counts['core-to-mdp']).toMatchObject({ copied: 1, duplicate: 0 });
      expect(warnings).toEqual([]);
    } finally {
      await bridge.close();
    }
  });
});
