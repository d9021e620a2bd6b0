/**
 * `pnpm bench e2e`: market data through the whole system as it is deployed: the store and the
 * pipeline each in its own Node process (`dist/main.js`, with the Node flags of their `start`
 * scripts), on real Redis and PostgreSQL, the pipeline reading its SyntheticProvider
 * (provider -> ProviderRouter -> RateCoordinator -> BatchPublisher -> `<ns>.md.bars`), the store
 * reading `md.bars` (Pulse group `store` -> write coordinator -> COPY), its backpressure feedback
 * reaching the pipeline on `<ns>.telemetry.feedback`. Nothing of either service runs in this process.
 *
 * Two phases, each with its own pipeline process (the store keeps running):
 *  1. saturation: the provider's budget is BENCH_E2E_RATE (default 300 000 bars/s, far above what two
 *     cores carry), BENCH_E2E_WARMUP_S (default 5) s of warm-up, then BENCH_E2E_SECONDS (default 60) s
 *     measured: `bars_per_s` is the rows the store committed in that window (its
 *     `mds_coord_items_written_total`) over the window, `published_per_s` the entries added to the
 *     stream (XLEN). Then the pipeline is stopped (SIGTERM: it publishes what it holds) and the store
 *     is given time to write everything: `published` (XLEN), `persisted` (count(*)), `lost`.
 *     Each process's share of a CPU over the window and its CPU time per bar (pipeline and store from
 *     /proc, redis-server from its INFO, PostgreSQL as its processes alive through the window; the
 *     last two are shared, so on a busy host they include others' work) show which one is the limit.
 *  2. fixed load, after a CHECKPOINT has written phase 1's data to disk (`checkpoint_before_s`):
 *     BENCH_E2E_FIXED_RATE (default 20 000 bars/s), other symbols (fresh keys), from a new
 *     pipeline process: BENCH_E2E_FIXED_WARMUP_S (default 5) s of warm-up, as in phase 1 (the new
 *     process compiles its hot code while it publishes; its p99 is kept as `warmup_latency_p99_ms`),
 *     then BENCH_E2E_FIXED_SECONDS (default 20) s measured. Latency of every bar of one symbol in 100
 *     added in that window: from its XADD (the stream entry id's milliseconds, Redis's clock on this
 *     host) to its row's COMMIT (`clock_timestamp()` in a deferred constraint trigger for that
 *     symbol, which runs as the row's transaction commits; same host clock) -> `latency_p50_ms`,
 *     `latency_p99_ms`; from the pipeline
 *     batching it (the envelope `ts`) as a second figure, and until this process received the NOTIFY
 *     (`xadd_to_notified_*`: includes this process's own delays, which until 2026-12-07 were in
 *     `latency_*`).
 *
 * Every run uses its own stream namespace and Postgres schema and removes both afterwards.
 * Env: REDIS_URL, DATABASE_URL (127.0.0.1 defaults), the BENCH_E2E_* above, BENCH_NODE_ARGS (replaces
 * the Node flags of both services' start scripts, e.g. "" for V8's defaults; BENCH_STORE_NODE_ARGS and
 * BENCH_PIPELINE_NODE_ARGS for one service), BENCH_CPU_PROFILE=<dir>
 * (`--cpu-prof` for both processes, profiles in <dir>/store and <dir>/pipeline), and any MDS_* /
 * PIPELINE_* setting to override the ones below.
 */
import { join } from 'node:path';
import Redis from 'ioredis';
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
import {
  APPS_DIR,
  DATABASE_URL,
  PIPELINE_TUNED,
  REDIS_URL,
  rowsInBars,
  STORE_TUNED,
  watchCommits,
} from './e2e-support';

/** The Node flags of the services' `start` scripts, unless BENCH_{STORE,PIPELINE}_NODE_ARGS or BENCH_NODE_ARGS say otherwise. */
const nodeArgsOf = (service: 'STORE' | 'PIPELINE') =>
  (process.env[`BENCH_${service}_NODE_ARGS`] ?? process.env.BENCH_NODE_ARGS)
    ?.split(' ')
    .filter(Boolean);
const num = (name: string, def: number) => Number(process.env[name] ?? def);
const RATE = num('BENCH_E2E_RATE', 300_000);
const WARMUP_S = num('BENCH_E2E_WARMUP_S', 5);
const SECONDS = num('BENCH_E2E_SECONDS', 60);
const FIXED_RATE = num('BENCH_E2E_FIXED_RATE', 20_000);
const FIXED_SECONDS = num('BENCH_E2E_FIXED_SECONDS', 20);
const FIXED_WARMUP_S = num('BENCH_E2E_FIXED_WARMUP_S', 5);
const symbols = (prefix: string) =>
  Array.from({ length: 100 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
const SATURATION_SYMBOLS = symbols('S');
const FIXED_SYMBOLS = symbols('L');
/** Latency is sampled on every bar of this symbol (1 bar in 100). */
const SAMPLE_SYMBOL = FIXED_SYMBOLS[0];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<Record<string, unknown>> {
  const run = await openBenchRun({ redisUrl: REDIS_URL, databaseUrl: DATABASE_URL });
  const { ns, redis, schema } = run;
  const stream = `${ns}.md.bars`;
  const profileDir = process.env.BENCH_CPU_PROFILE;
  const profileArgs = (app: string) =>
    profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, app)}`] : [];
  const shared = {
    EVENT_BUS_BACKEND: 'redis',
    REDIS_URL,
    MD_NAMESPACE: ns,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
  const storeSettings = { ...STORE_TUNED, ...envWithPrefix('MDS_') };
  const pipelineSettings = { ...PIPELINE_TUNED, ...envWithPrefix('PIPELINE_') };
  let store: ServiceProcess | undefined;
  let pipeline: ServiceProcess | undefined;
  let pipelineNodeArgs: readonly string[] = [];

  const startPipeline = async (name: string, rate: number, syms: string[]) => {
    const proc = await ServiceProcess.startApp(join(APPS_DIR, 'pipeline'), {
      name,
      nodeArgs: nodeArgsOf('PIPELINE'),
      extraNodeArgs: profileArgs('pipeline'),
      env: {
        ...pipelineSettings,
        ...shared,
        PIPELINE_CONSUMER_NAME: name,
        PIPELINE_PROVIDERS: 'synthetic',
        PIPELINE_FB_PROVIDER: 'synthetic',
        PIPELINE_SYNTHETIC_SYMBOLS: syms.join(','),
        PIPELINE_SYNTHETIC_RATE: String(rate),
        PIPELINE_SYNTHETIC_BURST: String(Math.max(1000, Math.round(rate / 100))),
      },
    });
    pipelineNodeArgs = proc.opts.nodeArgs ?? [];
    await proc.waitReady(60_000);
    return proc;
  };
  const written = async () =>
    sumMetric(await store!.endpoint.metrics(), 'mds_coord_items_written_total');
  const xlen = async () => Number(await redis.xlen(stream));
  /** Stops the pipeline (it publishes what it holds) and waits until the store has written it all. */
  const drain = async () => {
    await pipeline!.stop(30_000);
    pipeline = undefined;
    const published = await xlen();
    let last = { rows: -1, at: Date.now() };
    for (;;) {
      const rows = await written();
      if (rows >= published) break;
      if (rows !== last.rows) last = { rows, at: Date.now() };
      else if (Date.now() - last.at > 30_000) break; // reported as lost below
      await sleep(50);
    }
    return published;
  };

  try {
    store = await ServiceProcess.startApp(join(APPS_DIR, 'store'), {
      nodeArgs: nodeArgsOf('STORE'),
      extraNodeArgs: profileArgs('store'),
      env: {
        ...storeSettings,
        ...shared,
        DATABASE_URL: schema.url,
        MDS_CONSUMER_NAME: 'store-bench',
        MDS_DLQ_DIR: run.dlqDir,
      },
    });
    await store.waitReady(60_000);

    // ---- phase 1: saturation ----
    console.log(
      `[e2e bench] saturation: synthetic provider at ${RATE.toLocaleString()} bars/s budget, ${WARMUP_S} s warm-up + ${SECONDS} s measured`,
    );
    pipeline = await startPipeline('pipeline-saturation', RATE, SATURATION_SYMBOLS);
    await sleep(WARMUP_S * 1000);
    const from = { rows: await written(), published: await xlen(), at: Date.now() };
    const cpuFrom = {
      store: cpuSeconds(store.pid!),
      pipeline: cpuSeconds(pipeline.pid!),
      redis: await redisCpuSeconds(redis),
      postgres: cpuSecondsByPid('postgres'),
      machine: machineJiffies(),
    };
    const depths: number[] = [];
    const capacity = Number(storeSettings.MDS_COORDINATOR_CAPACITY);
    while (Date.now() - from.at < SECONDS * 1000) {
      await sleep(500);
      depths.push(sumMetric(await store.endpoint.metrics(), 'mds_coord_queue_depth'));
    }
    const to = { rows: await written(), published: await xlen(), at: Date.now() };
    const cpuTo = {
      store: cpuSeconds(store.pid!),
      pipeline: cpuSeconds(pipeline.pid!),
      redis: await redisCpuSeconds(redis),
      postgres: cpuSecondsByPid('postgres'),
      machine: machineJiffies(),
    };
    const redisCpu = cpuTo.redis - cpuFrom.redis;
    const postgresCpu = cpuSecondsBetween(cpuFrom.postgres, cpuTo.postgres);
    const window = (to.at - from.at) / 1000;
    const pipelineMetrics = await pipeline.endpoint.metrics();
    const feedbackReceived = Object.fromEntries(
      ['ok', 'soft', 'hard'].map((level) => [
        level,
        sumMetric(pipelineMetrics, 'pipeline_feedback_events_received_total', { level }),
      ]),
    );
    const pipelineRss = peakRssMb(pipeline.pid!);
    const published = await drain();
    const persisted = await rowsInBars(run);
    const machine =
      (cpuTo.machine.busy - cpuFrom.machine.busy) / (cpuTo.machine.total - cpuFrom.machine.total);
    const saturation = {
      provider_budget_per_s: RATE,
      warmup_s: WARMUP_S,
      seconds: round1(window),
      bars_per_s: Math.round((to.rows - from.rows) / window),
      published_per_s: Math.round((to.published - from.published) / window),
      published,
      persisted,
      lost: published - persisted,
      cpu_share: {
        // Share of one core over the window: 1.0 = a process kept one core busy the whole time.
        pipeline: Number(((cpuTo.pipeline - cpuFrom.pipeline) / window).toFixed(2)),
        store: Number(((cpuTo.store - cpuFrom.store) / window).toFixed(2)),
        // Shared servers: these include whatever else used them during the window.
        redis: Number((redisCpu / window).toFixed(2)),
        postgres: Number((postgresCpu / window).toFixed(2)),
        machine_busy_pct: Math.round(machine * 100),
      },
      // CPU time per bar, which moves far less with the host's load than the rates do.
      cpu_us_per_bar: {
        pipeline: round1(
          ((cpuTo.pipeline - cpuFrom.pipeline) * 1e6) / Math.max(1, to.published - from.published),
        ),
        store: round1(((cpuTo.store - cpuFrom.store) * 1e6) / Math.max(1, to.rows - from.rows)),
        redis: round1((redisCpu * 1e6) / Math.max(1, to.rows - from.rows)),
        postgres: round1((postgresCpu * 1e6) / Math.max(1, to.rows - from.rows)),
      },
      store_queue_depth_avg_pct: Number(
        ((depths.reduce((a, b) => a + b, 0) / Math.max(1, depths.length) / capacity) * 100).toFixed(
          1,
        ),
      ),
      feedback_received: feedbackReceived,
      peak_rss_mb: { pipeline: pipelineRss, store: peakRssMb(store.pid!) },
    };
    console.log(`[e2e bench] saturation ${JSON.stringify(saturation)}`);

    // ---- phase 2: fixed offered load, latency ----
    // Phase 1 left ~1 GB of table and WAL dirty in the page cache; without this the kernel writes it
    // back during phase 2 and commits wait behind it (seen: single writes of 300-450 ms).
    const checkpointStarted = Date.now();
    await run.pg.query('CHECKPOINT');
    const checkpointS = round1((Date.now() - checkpointStarted) / 1000);
    const xaddAt = new Map<number, number>();
    const batchedAt = new Map<number, number>();
    const committed = new Map<number, number>();
    const notified = new Map<number, number>();
    await watchCommits(run, SAMPLE_SYMBOL, (ts, at) => {
      committed.set(ts, at);
      notified.set(ts, Date.now());
    });
    // Reads the stream from where phase 1 ended, noting when each sampled bar was added (entry id ms).
    const reader = new Redis(REDIS_URL);
    let cursor = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';
    let reading = true;
    const needle = `"symbol":"${SAMPLE_SYMBOL}"`;
    const readLoop = (async () => {
      while (reading) {
        const res = await reader.xread('COUNT', 2000, 'BLOCK', 200, 'STREAMS', stream, cursor);
        if (!res) continue;
        for (const [id, fields] of res[0][1]) {
          cursor = id;
          const json = fields[fields.indexOf('envelope') + 1] ?? '';
          if (!json.includes(needle)) continue;
          const env = JSON.parse(json) as { ts: number; payload: { ts: number } };
          xaddAt.set(env.payload.ts, Number(id.slice(0, id.indexOf('-'))));
          batchedAt.set(env.payload.ts, env.ts * 1000);
        }
      }
    })();
    console.log(
      `[e2e bench] fixed load: ${FIXED_RATE.toLocaleString()} bars/s offered, ${FIXED_WARMUP_S} s warm-up + ${FIXED_SECONDS} s measured`,
    );
    pipeline = await startPipeline('pipeline-fixed', FIXED_RATE, FIXED_SYMBOLS);
    // From the pipeline being ready to its stop: what it published meanwhile over that time.
    await sleep(FIXED_WARMUP_S * 1000);
    const fixedFrom = { published: await xlen(), at: Date.now() };
    await sleep(FIXED_SECONDS * 1000);
    const fixedTo = { published: await xlen(), at: Date.now() };
    const fixedPublished = (await drain()) - published;
    await sleep(500); // the last notifications
    reading = false;
    await readLoop;
    reader.disconnect();
    const fromXadd: number[] = [];
    const fromBatched: number[] = [];
    const toNotified: number[] = [];
    const inWarmup: number[] = [];
    for (const [ts, at] of committed) {
      const added = xaddAt.get(ts);
      const batched = batchedAt.get(ts);
      if (added !== undefined && added < fixedFrom.at) {
        inWarmup.push(at - added);
        continue;
      }
      if (added !== undefined) fromXadd.push(at - added);
      if (added !== undefined) toNotified.push(notified.get(ts)! - added);
      if (batched !== undefined) fromBatched.push(at - batched);
    }
    const persistedAll = await rowsInBars(run);
    const fixed = {
      offered_per_s: FIXED_RATE,
      checkpoint_before_s: checkpointS,
      warmup_s: FIXED_WARMUP_S,
      seconds: FIXED_SECONDS,
      published: fixedPublished,
      persisted: persistedAll - persisted,
      lost: fixedPublished - (persistedAll - persisted),
      achieved_per_s: Math.round(
        (fixedTo.published - fixedFrom.published) / ((fixedTo.at - fixedFrom.at) / 1000),
      ),
      latency_samples: fromXadd.length,
      latency_p50_ms: round1(percentile(fromXadd, 50)),
      latency_p99_ms: round1(percentile(fromXadd, 99)),
      latency_max_ms: round1(Math.max(...fromXadd)),
      batched_to_committed_p50_ms: round1(percentile(fromBatched, 50)),
      batched_to_committed_p99_ms: round1(percentile(fromBatched, 99)),
      xadd_to_notified_p50_ms: round1(percentile(toNotified, 50)),
      xadd_to_notified_p99_ms: round1(percentile(toNotified, 99)),
      warmup_latency_p99_ms: round1(percentile(inWarmup, 99)),
      latency_sampled: `every bar of ${SAMPLE_SYMBOL} (1 in ${FIXED_SYMBOLS.length}) added after the warm-up: XADD (entry id ms, Redis's clock) -> COMMIT (clock_timestamp() in a deferred constraint trigger, the same host clock); xadd_to_notified: until this process received the NOTIFY`,
    };
    console.log(`[e2e bench] fixed load ${JSON.stringify(fixed)}`);

    const figures = {
      mode: "separate processes: store and pipeline each from dist/main.js with their start scripts' Node flags",
      bars_per_s: saturation.bars_per_s,
      published: saturation.published,
      persisted: saturation.persisted,
      lost: saturation.lost + fixed.lost,
      latency_offered_per_s: FIXED_RATE,
      latency_p50_ms: fixed.latency_p50_ms,
      latency_p99_ms: fixed.latency_p99_ms,
      targets: { bars_per_s: 100_000, lost: 0, latency_p99_ms: 50 },
      saturation,
      fixed_load: fixed,
      settings: {
        ...storeSettings,
        ...pipelineSettings,
        store_node_args: (store.opts.nodeArgs ?? []).join(' '),
        pipeline_node_args: pipelineNodeArgs.join(' '),
      },
    };
    console.log(
      `[e2e bench] ${figures.bars_per_s.toLocaleString()} bars/s persisted at saturation over ${saturation.seconds} s ` +
        `(published ${saturation.published_per_s.toLocaleString()}/s; CPU pipeline ${saturation.cpu_share.pipeline} core = ${saturation.cpu_us_per_bar.pipeline} us/bar, ` +
        `store ${saturation.cpu_share.store} core = ${saturation.cpu_us_per_bar.store} us/bar, redis ${saturation.cpu_us_per_bar.redis} us/bar, postgres ${saturation.cpu_us_per_bar.postgres} us/bar, machine ${saturation.cpu_share.machine_busy_pct}% busy), ` +
        `published ${figures.published}, persisted ${figures.persisted}, lost ${figures.lost}; at ${FIXED_RATE.toLocaleString()}/s offered: p50 ${figures.latency_p50_ms} ms, p99 ${figures.latency_p99_ms} ms`,
    );
    return figures;
  } catch (err) {
    if (pipeline) console.error(pipeline.output());
    if (store) console.error(store.output());
    throw err;
  } finally {
    await pipeline?.stop(10_000);
    await store?.stop(20_000);
    await run.close();
  }
}

runBench('e2e', main);
