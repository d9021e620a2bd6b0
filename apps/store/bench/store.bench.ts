/**
 * `pnpm bench store`: publishes N bars to `<ns>.md.bars` (Redis), then starts the store as its own
 * process (from `dist/main.js`, as deployed) and reports bars/s from the moment its stream ingest
 * starts to the last row committed and acked (the `store` group has nothing left unread or unacked;
 * `mds_coord_items_written_total` on its /metrics and count(*) are checked against N at the end), and
 * the store process's peak RSS (VmHWM: the kernel's high-water mark, so no sample can miss the
 * peak). The bench process's own memory (the publisher) is not counted.
 *
 * CPU time per bar over the same window (`cpu_us_per_bar`: the store process from /proc, redis-server
 * from its INFO, the PostgreSQL processes from /proc, those the store connects meanwhile included)
 * and how busy the machine was show which process is the limit.
 *
 * In the same round, `copy_rows_per_s`: the same rows, encoded beforehand, COPYed (binary) into a
 * table shaped like `bars_ohlcv` by as many connections as the store has workers, in batches of the
 * store's batch size: the database's own limit for this write shape, so the ratio shows how close
 * the store comes to it.
 *
 * The whole round (fresh namespace and schema, publish, ingest, plain COPY) runs BENCH_ROUNDS times
 * (default 3); figures are medians, peak RSS the highest.
 *
 * Env: REDIS_URL, DATABASE_URL (127.0.0.1 defaults), BENCH_BARS (default 300000), BENCH_NODE_ARGS
 * (the store's Node flags; default those of its `start` script), and any MDS_* setting to override the
 * tuned ones below. BENCH_CPU_PROFILE=<dir> writes the store's CPU profile there (`--cpu-prof`);
 * BENCH_HEAP_SNAPSHOT=1 has the store write a heap snapshot once a third of the rows are written
 * (SIGUSR2, `--heapsnapshot-signal`) into the working directory: mid-drain, whatever the queue's
 * depth (with one read ahead it stays a few per cent full).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createEnvelope, createEventBus } from '@mdp/pulse';
import { PgSqlClient } from '@mdp/sql';
import {
  cpuSeconds,
  cpuSecondsBetween,
  cpuSecondsByPid,
  envWithPrefix,
  machineJiffies,
  openBenchRun,
  peakRssMb,
  percentile,
  redisCpuSeconds,
  runBench,
  ServiceProcess,
  sumMetric,
} from '@mdp/testing';
import { THROUGHPUT_SETTINGS } from '../src/config/throughput-settings';
import { binaryEncoderFor } from '../src/sinks/copy-binary';
import { BARS } from '../src/sinks/tables';
import { BENCH_SYMBOLS, benchBar } from './bench-bars';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_BARS ?? 300_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/** The Node flags of the store's `start` script, unless BENCH_NODE_ARGS says otherwise. */
const NODE_ARGS = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean);
const STORE_DIR = join(__dirname, '..');

interface RoundFigures {
  bars_per_s: number;
  seconds: number;
  rows_in_db: number;
  peak_rss_mb: number;
  /** Highest heap figures the store's /metrics showed while writing (MB). */
  peak_heap_used_mb: number;
  peak_heap_space_used_mb: Record<string, number>;
  peak_external_mb: number;
  queue_depth_avg_pct: number;
  queue_depth_max: number;
  copy_rows_per_s: number;
  /** CPU time per bar while the store wrote: where the two cores went. */
  cpu_us_per_bar: { store: number; redis: number; postgres: number };
  machine_busy_pct: number;
  settings: Record<string, string | undefined>;
}

/** The database's own rate for these rows: pre-encoded binary COPY, `workers` connections at once. */
async function plainCopy(schemaUrl: string, workers: number, batchSize: number): Promise<number> {
  const pg = new Client({ connectionString: schemaUrl });
  await pg.connect();
  await pg.query('CREATE TABLE bench_copy (LIKE bars_ohlcv INCLUDING ALL)');
  await pg.end();
  const encode = binaryEncoderFor(BARS)!;
  const buffers: Buffer[] = [];
  for (let i = 0; i < N; i += batchSize) {
    const rows = [];
    for (let k = i; k < Math.min(N, i + batchSize); k++) rows.push(benchBar(k));
    buffers.push(encode(rows)!);
  }
  const db = new PgSqlClient({ connectionString: schemaUrl, maxConnections: workers });
  const sql = `COPY bench_copy (${BARS.columns.map((c) => `"${c.name}"`).join(', ')}) FROM STDIN WITH (FORMAT binary)`;
  try {
    await Promise.all(Array.from({ length: workers }, () => db.query('SELECT 1')));
    const start = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < buffers.length) {
          const buf = buffers[next++];
          await db.transaction((s) => s.copyFrom!(sql, buf));
        }
      }),
    );
    return Math.round(N / ((Date.now() - start) / 1000));
  } finally {
    await db.close();
  }
}

/** One round: a fresh namespace and schema, N bars published, then ingested by a store process and timed. */
async function round(): Promise<RoundFigures> {
  const run = await openBenchRun({ redisUrl: REDIS_URL, databaseUrl: DATABASE_URL });
  const { ns, schema, pg } = run;
  const publisher = createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns });
  let store: ServiceProcess | undefined;

  try {
    console.log(`[store bench] publishing ${N} bars to ${ns}.md.bars ...`);
    const t0 = Date.now();
    const chunk = 5000;
    for (let i = 0; i < N; i += chunk) {
      const envs = [];
      for (let k = i; k < Math.min(N, i + chunk); k++)
        envs.push(createEnvelope('md.Bar', benchBar(k), { key: `SYM${k % BENCH_SYMBOLS}` }));
      await publisher.publishBatch('md.bars', envs);
    }
    console.log(`[store bench] published in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const settings: Record<string, string | undefined> = {
      ...THROUGHPUT_SETTINGS,
      ...envWithPrefix('MDS_'),
    };
    const extraNodeArgs: string[] = [];
    if (process.env.BENCH_CPU_PROFILE)
      extraNodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`);
    if (process.env.BENCH_HEAP_SNAPSHOT) extraNodeArgs.push('--heapsnapshot-signal=SIGUSR2');
    store = await ServiceProcess.startApp(STORE_DIR, {
      nodeArgs: NODE_ARGS,
      extraNodeArgs,
      env: {
        ...settings,
        EVENT_BUS_BACKEND: 'redis',
        REDIS_URL,
        MD_NAMESPACE: ns,
        DATABASE_URL: schema.url,
        MDS_CONSUMER_NAME: 'store-bench',
        MDS_DLQ_DIR: run.dlqDir,
        LOG_LEVEL: 'info',
      },
    });
    const nodeArgs = store.opts.nodeArgs ?? [];
    // Reading starts when the ingest logs that it started (migrations done, workers up): Nest
    // start-up is not counted. The line is caught as it is printed, not by polling.
    let start = 0;
    store.child.stdout!.on('data', (chunk: Buffer) => {
      if (!start && chunk.includes('stream ingest started')) start = Date.now();
    });
    await store.waitForOutput(/stream ingest started/, 60_000);
    const endpoint = store.endpoint;
    const cpu = async () => ({
      store: cpuSeconds(store!.pid!),
      redis: await redisCpuSeconds(run.redis),
      postgres: cpuSecondsByPid('postgres'),
      machine: machineJiffies(),
    });
    const cpuFrom = await cpu();

    const depths: number[] = [];
    let heapUsed = 0;
    let external = 0;
    const spaces: Record<string, number> = {};
    let written = 0;
    let snapshotTaken = false;
    let lastScrape = 0;
    // The end is seen on Redis (the group has read every entry and holds none unacked: the store acks
    // a row once its COPY committed), polled every 5 ms at the cost of one XINFO to Redis. The
    // store's /metrics (queue depth, heap) is read every 200 ms, as a scraper would, only more
    // often: rendering it takes the store ~1.3 ms, which 50 reads a second made ~3 % of its CPU.
    for (;;) {
      if (Date.now() - start > 600_000)
        throw new Error(`only ${written} of ${N} rows after 10 minutes`);
      if (!store.running) throw new Error(`the store exited\n${store.output()}`);
      const group = await publisher.groupStats('md.bars', 'store');
      const drained = group.lag === 0 && group.pending === 0;
      if (drained || group.lag === null || Date.now() - lastScrape >= 200) {
        lastScrape = Date.now();
        const samples = await endpoint.metrics();
        written = sumMetric(samples, 'mds_coord_items_written_total');
        const depth = sumMetric(samples, 'mds_coord_queue_depth');
        depths.push(depth);
        heapUsed = Math.max(heapUsed, sumMetric(samples, 'nodejs_heap_size_used_bytes'));
        external = Math.max(external, sumMetric(samples, 'nodejs_external_memory_bytes'));
        for (const s of samples)
          if (s.name === 'nodejs_heap_space_size_used_bytes' && s.labels.space)
            spaces[s.labels.space] = Math.max(spaces[s.labels.space] ?? 0, s.value);
        if (process.env.BENCH_HEAP_SNAPSHOT && !snapshotTaken && written > N / 3) {
          store.kill('SIGUSR2');
          snapshotTaken = true;
        }
      }
      if (drained || written >= N) break;
      await new Promise((r) => setTimeout(r, group.lag === null ? 20 : 5));
    }
    const seconds = (Date.now() - start) / 1000;
    const cpuTo = await cpu();
    if (written !== N)
      throw new Error(`the store's /metrics counts ${written} rows written, not ${N}`);
    const peakRss = peakRssMb(store.pid!);
    await store.stop();
    store = undefined;
    const rows = Number((await pg.query('SELECT count(*) AS n FROM bars_ohlcv')).rows[0].n);
    if (rows !== N)
      throw new Error(`the store reported ${N} rows written but the table holds ${rows}`);

    const copyRate = await plainCopy(
      schema.url,
      Number(settings.MDS_COORDINATOR_WORKERS),
      Number(settings.MDS_COORDINATOR_BATCH_SIZE),
    );
    const mb = (b: number) => Math.round(b / 2 ** 20);
    const usPerBar = (cpuS: number) => Math.round((cpuS * 1e6 * 10) / N) / 10;
    const capacity = Number(settings.MDS_COORDINATOR_CAPACITY);
    const avgDepth = depths.reduce((a, b) => a + b, 0) / Math.max(1, depths.length);
    const figures: RoundFigures = {
      bars_per_s: Math.round(N / seconds),
      seconds: Number(seconds.toFixed(3)),
      rows_in_db: rows,
      peak_rss_mb: peakRss,
      peak_heap_used_mb: mb(heapUsed),
      peak_heap_space_used_mb: Object.fromEntries(
        Object.entries(spaces).map(([k, v]) => [k, mb(v)]),
      ),
      peak_external_mb: mb(external),
      queue_depth_avg_pct: Number(((avgDepth / capacity) * 100).toFixed(1)),
      queue_depth_max: Math.max(...depths),
      copy_rows_per_s: copyRate,
      cpu_us_per_bar: {
        store: usPerBar(cpuTo.store - cpuFrom.store),
        redis: usPerBar(cpuTo.redis - cpuFrom.redis),
        // The store's connections open once it writes: they count from their start.
        postgres: usPerBar(
          cpuSecondsBetween(cpuFrom.postgres, cpuTo.postgres, { includeNew: true }),
        ),
      },
      machine_busy_pct: Math.round(
        ((cpuTo.machine.busy - cpuFrom.machine.busy) /
          (cpuTo.machine.total - cpuFrom.machine.total)) *
          100,
      ),
      settings: { ...settings, node_args: nodeArgs.join(' ') },
    };
    console.log(
      `[store bench] ${figures.bars_per_s.toLocaleString()} bars/s (${N} bars in ${figures.seconds} s), plain COPY ${copyRate.toLocaleString()} rows/s, ` +
        `peak RSS ${peakRss} MB (heap used ${figures.peak_heap_used_mb} MB, external ${figures.peak_external_mb} MB, ${JSON.stringify(figures.peak_heap_space_used_mb)}), ` +
        `queue ${figures.queue_depth_avg_pct}% full on average; CPU per bar: store ${figures.cpu_us_per_bar.store} us, redis ${figures.cpu_us_per_bar.redis} us, postgres ${figures.cpu_us_per_bar.postgres} us, machine ${figures.machine_busy_pct}% busy`,
    );
    return figures;
  } finally {
    if (store) await store.stop();
    await publisher.close();
    await run.close();
  }
}

/** The machine is shared and single runs move by 10-20 %: figures are the medians of ROUNDS rounds. */
async function main(): Promise<Record<string, unknown>> {
  const rounds: RoundFigures[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await round());
  const median = (pick: (r: RoundFigures) => number) => percentile(rounds.map(pick), 50);
  const barsPerS = median((r) => r.bars_per_s);
  const copyPerS = median((r) => r.copy_rows_per_s);
  const cpuUs = {
    store: median((r) => r.cpu_us_per_bar.store),
    redis: median((r) => r.cpu_us_per_bar.redis),
    postgres: median((r) => r.cpu_us_per_bar.postgres),
  };
  // What the cores could carry if these three processes had all of them and nothing else ran.
  const cpuCeiling = Math.round(
    (cpus().length * 1e6) / (cpuUs.store + cpuUs.redis + cpuUs.postgres),
  );
  const figures = {
    mode: 'store as its own process (dist/main.js); bench process publishes beforehand',
    bars_published: N,
    rows_in_db: rounds[rounds.length - 1].rows_in_db,
    bars_per_s: barsPerS,
    copy_rows_per_s: copyPerS,
    store_vs_copy: Number((barsPerS / copyPerS).toFixed(3)),
    peak_rss_mb: Math.max(...rounds.map((r) => r.peak_rss_mb)),
    cpu_us_per_bar: cpuUs,
    cpu_ceiling_bars_per_s: cpuCeiling,
    machine_busy_pct: median((r) => r.machine_busy_pct),
    target_bars_per_s: 100_000,
    target_peak_rss_mb: 200,
    rounds: rounds.map(({ settings: _settings, ...r }) => r),
    settings: {
      ...rounds[0].settings,
      figures: `median of ${ROUNDS} rounds; peak RSS the highest`,
    },
  };
  console.log(
    `[store bench] median ${barsPerS.toLocaleString()} bars/s over ${ROUNDS} rounds (${rounds.map((r) => r.bars_per_s).join(' / ')}), ` +
      `plain COPY ${copyPerS.toLocaleString()} rows/s (ratio ${figures.store_vs_copy}), peak RSS ${figures.peak_rss_mb} MB; ` +
      `CPU per bar ${JSON.stringify(cpuUs)} us, so ${cpuCeiling.toLocaleString()} bars/s would take all ${cpus().length} cores (machine ${figures.machine_busy_pct}% busy)`,
  );
  return figures;
}

runBench('store', main);
