/**
 * `pnpm bench scale`: store throughput with 1, 2 and 3 store instances (separate processes, group
 * `store`) on a private 3-master Redis Cluster with MD_PARTITIONS=6. For each count: fresh namespace
 * and schema; N bars published over the 6 partitions with group `store` created past them (so
 * nothing is readable yet); the instances started and ready; then the group is set back to the
 * start of every partition (XGROUP SETID 0), so all instances see the whole backlog at once. bars/s
 * is N over the time from then to the last row in bars_ohlcv (count(*) polled every 200 ms).
 * Writes bench/results/scale.json.
 *
 * The counts alternate (1, 2, 3, 1, 2, 3, ...) for BENCH_ROUNDS rounds (default 3) and each figure is
 * the median: on a shared 2-core host single runs move a lot.
 *
 * Env: DATABASE_URL (127.0.0.1 default), BENCH_BARS (default 400000), BENCH_ROUNDS, and any MDS_*
 * setting to override the throughput settings the instances run with.
 */
import path from 'node:path';
import { Client } from 'pg';
import { Cluster } from 'ioredis';
import { createEnvelope, createEventBus, partitionStream } from '@mdp/pulse';
import {
  benchMachine,
  createTestSchema,
  freePort,
  RedisCluster,
  ServiceProcess,
  stopAll,
  uniqueId,
  percentile,
  writeBenchResult,
} from '@mdp/testing';
import { THROUGHPUT_SETTINGS } from '../src/config/throughput-settings';
import { BENCH_SYMBOLS, benchBar } from './bench-bars';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_BARS ?? 400_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const PARTITIONS = 6;
const MAIN = path.join(__dirname, '../dist/main.js');

interface RunFigures {
  instances: number;
  bars_per_s: number;
  seconds: number;
  rows_in_db: number;
}

async function run(cluster: RedisCluster, instances: number): Promise<RunFigures> {
  const ns = uniqueId('scale');
  const schema = await createTestSchema(DATABASE_URL);
  const pg = new Client({ connectionString: schema.url });
  await pg.connect();
  const bus = createEventBus({
    backend: 'redis',
    clusterNodes: cluster.seeds,
    namespace: ns,
    partitions: { 'md.bars': PARTITIONS },
  });
  const stores: ServiceProcess[] = [];
  const redis = new Cluster(cluster.servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
  const streams = Array.from({ length: PARTITIONS }, (_, p) => partitionStream(ns, 'md.bars', p));
  try {
    for (let i = 0; i < N; i += 5000) {
      const envs = [];
      for (let k = i; k < Math.min(N, i + 5000); k++)
        envs.push(createEnvelope('md.Bar', benchBar(k), { key: `SYM${k % BENCH_SYMBOLS}` }));
      await bus.publishBatch('md.bars', envs);
    }
    for (const s of streams) await redis.xgroup('CREATE', s, 'store', '$', 'MKSTREAM');
    const env = {
      ...THROUGHPUT_SETTINGS,
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MDS_'))),
      EVENT_BUS_BACKEND: 'redis',
      REDIS_CLUSTER_NODES: cluster.seeds,
      MD_PARTITIONS: String(PARTITIONS),
      MD_NAMESPACE: ns,
      DATABASE_URL: schema.url,
      MDS_DLQ_DIR: `/tmp/${ns}-dlq`,
      LOG_LEVEL: 'warn',
    };
    // One at a time: the first runs the migrations.
    for (let i = 0; i < instances; i++) {
      const port = await freePort();
      const store = ServiceProcess.start({
        name: `store-${i + 1}`,
        script: MAIN,
        nodeArgs: ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'],
        env: { ...env, PORT: String(port) },
        port,
      });
      stores.push(store);
      await store.waitReady(60_000);
    }
    const count = async () =>
      Number((await pg.query('SELECT count(*) AS n FROM bars_ohlcv')).rows[0].n);
    const start = Date.now();
    await Promise.all(streams.map((s) => redis.xgroup('SETID', s, 'store', '0')));
    let rows = 0;
    while ((rows = await count()) < N) {
      if (Date.now() - start > 600_000)
        throw new Error(`only ${rows} of ${N} rows after 10 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (Date.now() - start) / 1000;
    const figures = {
      instances,
      bars_per_s: Math.round(N / seconds),
      seconds: Number(seconds.toFixed(2)),
      rows_in_db: rows,
    };
    console.log(
      `[scale bench] ${instances} instance(s): ${figures.bars_per_s.toLocaleString()} bars/s (${N} bars in ${figures.seconds} s)`,
    );
    return figures;
  } finally {
    await Promise.all(stores.map((s) => s.stop()));
    await bus.close();
    redis.disconnect();
    await pg.end();
    await schema.drop();
  }
}

async function main(): Promise<void> {
  const cluster = await RedisCluster.start();
  try {
    const rounds: RunFigures[][] = [[], [], []];
    for (let r = 0; r < ROUNDS; r++)
      for (const instances of [1, 2, 3]) rounds[instances - 1].push(await run(cluster, instances));
    const median = rounds.map((runs) =>
      percentile(
        runs.map((x) => x.bars_per_s),
        50,
      ),
    );
    const figures = {
      bars_published: N,
      partitions: PARTITIONS,
      redis: '3-master Redis Cluster, private, on this machine',
      figures: `median of ${ROUNDS} rounds, instance counts alternating`,
      bars_per_s: { '1': median[0], '2': median[1], '3': median[2] },
      speedup_2: Number((median[1] / median[0]).toFixed(2)),
      speedup_3: Number((median[2] / median[0]).toFixed(2)),
      rounds: rounds.map((runs, i) => ({
        instances: i + 1,
        bars_per_s: runs.map((x) => x.bars_per_s),
      })),
      settings: THROUGHPUT_SETTINGS,
    };
    console.log(
      `[scale bench] median over ${ROUNDS} rounds: 1 / 2 / 3 instances ${median.map((m) => m.toLocaleString()).join(' / ')} bars/s`,
    );
    console.log('[scale bench] machine', JSON.stringify(benchMachine()));
    console.log(`[scale bench] wrote ${writeBenchResult('scale', figures)}`);
  } finally {
    await cluster.stop();
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[scale bench] failed:', err);
    process.exit(1);
  },
);
