/**
 * `pnpm bench store`: publishes N bars to `<ns>.md.bars` (Redis), then runs the store's stream
 * ingest into real PostgreSQL and reports bars/s from the start of reading to the last row committed
 * (the coordinator's written-rows counter, checked against count(*) at the end),
 * plus peak RSS. Writes bench/results/store.json.
 *
 * The whole round (fresh namespace and schema, publish, ingest) runs BENCH_ROUNDS times (default 3);
 * bars/s is the median, peak RSS the highest.
 *
 * Env: REDIS_URL, DATABASE_URL (127.0.0.1 defaults), BENCH_BARS (default 300000), and any MDS_*
 * setting to override the tuned ones below. BENCH_CPU_PROFILE=<file.cpuprofile> writes a CPU
 * profile of the measured part only (open it in Chrome DevTools).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createEnvelope, createEventBus } from '@mdp/pulse';
import {
  benchMachine,
  createTestSchema,
  deleteRedisPrefix,
  percentile,
  uniqueId,
  writeBenchResult,
} from '@mdp/testing';
import { THROUGHPUT_SETTINGS } from '../src/config/throughput-settings';
import { BENCH_SYMBOLS, benchBar } from './bench-bars';

// The service runs from its build (`pnpm bench` builds first): NestJS needs the decorator metadata
// tsc emits, which tsx's esbuild transform does not.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bootstrap } = require('../dist/bootstrap') as typeof import('../src/bootstrap');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_BARS ?? 300_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));



interface RoundFigures {
  bars_per_s: number;
  seconds: number;
  rows_in_db: number;
  peak_rss_mb: number;
  queue_depth_avg_pct: number;
  workers_alive_at_end: number;
  settings: Record<string, string | undefined>;
}

/** One round: a fresh namespace and schema, N bars published, then ingested and timed. */
async function round(): Promise<RoundFigures> {
  const ns = uniqueId('bench');
  const schema = await createTestSchema(DATABASE_URL);
  const redis = new Redis(REDIS_URL);
  const publisher = createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns });
  const pg = new Client({ connectionString: schema.url });
  await pg.connect();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);

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

    const env: Record<string, string | undefined> = {
      ...THROUGHPUT_SETTINGS,
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MDS_'))),
      EVENT_BUS_BACKEND: 'redis',
      REDIS_URL,
      MD_NAMESPACE: ns,
      MDS_DLQ_DIR: `/tmp/${ns}-dlq`,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    const count = async () =>
      Number((await pg.query('SELECT count(*) AS n FROM bars_ohlcv')).rows[0].n);
    const store = await bootstrap({ port: 0, handleSignals: false, databaseUrl: schema.url, env });
    if (!(await store.started)) throw new Error('store did not start');
    // Reading starts as `started` resolves (migrations done, workers up); Nest start-up is not counted.
    const profiler = process.env.BENCH_CPU_PROFILE ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const start = Date.now();
    const written = () => store.coordinator.health();
    // Rows the coordinator reports durably written (counted after each batch's COMMIT). Polled in
    // process: a count(*) every 100 ms would take database CPU from the writes being measured on a
    // 2-core machine. The database count is taken once at the end, and must match.
    const writtenMetric = store.registry.getSingleMetric('mds_coord_items_written_total');
    if (!writtenMetric) throw new Error('store registry has no mds_coord_items_written_total');
    const committed = async () =>
      (await writtenMetric.get()).values.reduce((n, v) => n + v.value, 0);
    // Queue depth while running tells which side limits: a full queue means the database, an empty
    // one means stream consumption.
    const depths: number[] = [];
    const depthSampler = setInterval(() => depths.push(store.coordinator.size), 20);
    while ((await committed()) < N) {
      if (Date.now() - start > 600_000)
        throw new Error(`only ${await committed()} of ${N} rows after 10 minutes`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (Date.now() - start) / 1000;
    clearInterval(depthSampler);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(process.env.BENCH_CPU_PROFILE!, JSON.stringify(profile));
      profiler.disconnect();
    }
    const rows = await count();
    if (rows !== N)
      throw new Error(`the coordinator reported ${N} rows written but the table holds ${rows}`);
    const capacity = store.coordinator.capacity;
    const avgDepth = depths.reduce((a, b) => a + b, 0) / Math.max(1, depths.length);
    const health = written();
    await store.close();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const figures: RoundFigures = {
      bars_per_s: Math.round(N / seconds),
      seconds: Number(seconds.toFixed(3)),
      rows_in_db: rows,
      peak_rss_mb: Math.round(peakRss / 2 ** 20),
      queue_depth_avg_pct: Number(((avgDepth / capacity) * 100).toFixed(1)),
      workers_alive_at_end: health.workers_alive,
      settings: Object.fromEntries(
        Object.entries(env).filter(([k]) => k.startsWith('MDS_') && k !== 'MDS_DLQ_DIR'),
      ),
    };
    console.log(
      `[store bench] ${figures.bars_per_s.toLocaleString()} bars/s (${N} bars in ${figures.seconds} s), peak RSS ${figures.peak_rss_mb} MB, rows in db ${rows}, queue ${figures.queue_depth_avg_pct}% full on average`,
    );
    return figures;
  } finally {
    clearInterval(sampler);
    await publisher.close();
    await deleteRedisPrefix(redis, ns);
    redis.disconnect();
    await pg.end();
    await schema.drop();
  }
}

/** The machine is shared and single runs move by 10-20 %: the figure is the median of ROUNDS rounds. */
async function main(): Promise<void> {
  const rounds: RoundFigures[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await round());
  const median = percentile(
    rounds.map((r) => r.bars_per_s),
    50,
  );
  const figures = {
    bars_published: N,
    rows_in_db: rounds[rounds.length - 1].rows_in_db,
    bars_per_s: median,
    peak_rss_mb: Math.max(...rounds.map((r) => r.peak_rss_mb)),
    target_bars_per_s: 100_000,
    rounds: rounds.map(({ settings: _settings, ...r }) => r),
    settings: { ...rounds[0].settings, figures: `median of ${ROUNDS} rounds` },
  };
  console.log(
    `[store bench] median ${median.toLocaleString()} bars/s over ${ROUNDS} rounds (${rounds.map((r) => r.bars_per_s).join(' / ')}), peak RSS ${figures.peak_rss_mb} MB`,
  );
  console.log('[store bench] machine', JSON.stringify(benchMachine()));
  console.log(`[store bench] wrote ${writeBenchResult('store', figures)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[store bench] failed:', err);
    process.exit(1);
  },
);
