/**
 * Scale-out as deployed: a private 3-master Redis Cluster (free loopback ports, stopped and removed
 * after the test), MD_PARTITIONS=6, three store instances and a pipeline as separate processes,
 * plus a second pipeline instance with the same provider, which must stand by (provider lease).
 * One store is SIGKILLed mid-run and a slot holding a partition moves to another master with
 * `redis-cli --cluster reshard` while bars flow. At the end every published bar is in bars_ohlcv
 * exactly once, nothing is pending, every partition was read by group `store`, and the killed
 * instance's consumers left the group once the others had reclaimed what it held.
 */
import os from 'os';
import type { Cluster } from 'ioredis';
import { describeWithPostgres, RedisCluster, ServiceProcess, waitFor } from '@mdp/testing';
import { calculateSlot, partitionStream } from '@mdp/pulse';
import {
  clusterClient,
  clusterEnv,
  partitionStates,
  publishedBars,
  symbols,
} from './support/cluster';
import {
  lostKeys,
  report,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
} from './support/system';

const PARTITIONS = 6;
const BARS = 12_000;
const RATE = 1_500;

describeWithPostgres(
  'scale-out on a Redis Cluster: 2 pipelines (one leads), 3 stores, 6 partitions',
  () => {
    let cluster: RedisCluster | undefined;
    let redis: Cluster | undefined;
    let sys: SystemUnderTest | undefined;

    afterEach(async () => {
      redis?.disconnect();
      await sys?.close();
      await cluster?.stop();
      sys = cluster = redis = undefined;
    });

    it('survives a SIGKILLed store and a resharding: every bar once, nothing pending, every partition read', async () => {
      cluster = await RedisCluster.start();
      redis = clusterClient(cluster);
      sys = await SystemUnderTest.create(`redis://127.0.0.1:${cluster.servers[0].port}/0`);
      const shared = { ...sys.sharedEnv('v1'), ...clusterEnv(cluster, PARTITIONS) };
      const storeEnv = {
        ...shared,
        ...SMALL_STORE,
        MDS_CONSUMER_NAME: undefined, // the default: unique per instance
        MDS_INGEST_MIN_IDLE_MS: '2000',
        MDS_CONSUMER_GRACE_MS: '3000',
      };
      const stores: ServiceProcess[] = [];
      const pipelines: ServiceProcess[] = [];
      const detail = () => [...stores, ...pipelines].map((s) => s.output(15)).join('\n');
      // The first store runs the migrations; the others start once the tables exist.
      stores.push(await sys.start('store', storeEnv, 'store-a'));
      await stores[0].waitReady(30_000);
      stores.push(
        await sys.start('store', storeEnv, 'store-b'),
        await sys.start('store', storeEnv, 'store-c'),
      );
      await Promise.all(stores.map((s) => s.waitReady(30_000)));

      const pipelineEnv = {
        ...shared,
        ...syntheticPipeline(BARS, RATE),
        PIPELINE_SYNTHETIC_SYMBOLS: symbols(24),
      };
      const pipeline = await sys.start('pipeline', pipelineEnv);
      pipelines.push(pipeline);
      await pipeline.waitReady(30_000);
      const standby = await sys.start(
        'pipeline',
        { ...pipelineEnv, PIPELINE_CONSUMER_NAME: 'pipeline-2' },
        'pipeline-2',
      );
      pipelines.push(standby);
      await standby.waitReady(30_000);

      // Mid-run: kill one store outright, then move the slot of one partition to another master.
      await waitFor(async () => (await sys!.persistedCount()) >= BARS / 4, {
        timeoutMs: 30_000,
        what: 'a quarter of the bars written',
        detail,
      });
      const victim = stores[1];
      const victimConsumer = `store-${os.hostname()}-${victim.pid}`;
      victim.kill('SIGKILL');
      await victim.exited;
      const heldByVictim = (await partitionStates(redis, sys.namespace, PARTITIONS))
        .flatMap((s) => s.consumers)
        .filter((c) => c.name === victimConsumer)
        .reduce((n, c) => n + c.pending, 0);
      const nodes = await cluster.nodes();
      const moving = Array.from({ length: PARTITIONS }, (_, p) => {
        const slot = calculateSlot(partitionStream(sys!.namespace, 'md.bars', p));
        const from = nodes.find((n) => n.slots.some(([a, z]) => slot >= a && slot <= z))!;
        return {
          p,
          slot,
          from,
          before: slot - from.slots.find(([a, z]) => slot >= a && slot <= z)![0] + 1,
        };
      }).sort((a, b) => a.before - b.before)[0];
      const to = nodes.find((n) => n.id !== moving.from.id)!;
      await cluster.reshard(moving.from, to, moving.before);
      expect((await cluster.owner(moving.slot)).id).toBe(to.id);

      const published = await waitFor(
        async () => {
          const got = await publishedBars(redis!, sys!.namespace, PARTITIONS);
          return got.entries >= BARS ? got : undefined;
        },
        { timeoutMs: 60_000, what: `${BARS} bars published`, detail },
      );
      await sys.waitPersisted(published.keys.size, 60_000, detail);
      let states = await partitionStates(redis, sys.namespace, PARTITIONS);
      await waitFor(
        async () => {
          states = await partitionStates(redis!, sys!.namespace, PARTITIONS);
          return states.every(
            (s) => s.pending === 0 && !s.consumers.some((c) => c.name === victimConsumer),
          );
        },
        {
          timeoutMs: 30_000,
          what: 'nothing pending and the killed store out of every group',
          detail: () => JSON.stringify(states),
        },
      );

      // The orchestrator's view of the same: 6 partitions over the shards, read by the live stores.
      const orchestrator = await sys.start('orchestrator', shared);
      await orchestrator.waitReady(30_000);
      const answer = await orchestrator.endpoint.get('/topology/scale');
      if (answer.status !== 200)
        throw new Error(
          `GET /topology/scale: ${answer.status} ${answer.body}\n${orchestrator.output(30)}`,
        );
      const topology = JSON.parse(answer.body) as {
        partitions: number;
        shards: string[];
        instances: string[];
      };
      const live = stores.filter((s) => s !== victim).map((s) => `store-${os.hostname()}-${s.pid}`);
      expect(topology.partitions).toBe(PARTITIONS);
      expect(topology.shards.length).toBeGreaterThan(1);
      expect(topology.instances).toEqual(expect.arrayContaining(live));
      expect(topology.instances).not.toContain(victimConsumer);

      const persisted = await sys.persisted();
      const lost = lostKeys(published.keys, persisted.keys);
      await sys.metrics.scrapeAll();
      report(
        'cluster',
        {
          published: published.entries,
          persisted: persisted.rows,
          // Rows handed to a writer more than once: the killed store's unacked ones, written again by the others.
          handledTwice: Math.max(0, sys.metrics.total(SUBMITTED) - persisted.rows),
          deadLettered: 0,
          lost: lost.length,
          maxRssMb: sys.metrics.maxRssMb,
        },
        `partitions=${PARTITIONS} held_by_killed_store=${heldByVictim} moved_partition=p${moving.p} moved_slots=${moving.before}`,
      );
      // Two pipeline instances, one provider: published once, not twice.
      expect(published.entries).toBe(BARS);
      expect(standby.findLine(/standing by/)).toBeTruthy();
      expect(lost).toEqual([]);
      expect(persisted.rows).toBe(published.keys.size);
      for (const s of states) {
        expect(s.length).toBeGreaterThan(0);
        expect(s.entriesRead).toBe(s.length);
        expect(s.pending).toBe(0);
        expect(s.consumers.length).toBeGreaterThan(0);
      }
    }, 110_000);
  },
);
