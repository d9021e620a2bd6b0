/**
 * `pnpm bench e2e-one-process`: market data through the whole system on real Redis and PostgreSQL, in one
 * process: the pipeline service (its `bootstrap()`: provider -> ProviderRouter -> RateCoordinator ->
 * BatchPublisher -> `<ns>.md.bars`, plus its FeedbackConsumer) and the store service (its
 * `bootstrap()`: Pulse consumer group `store` -> write coordinator -> PostgreSQL sink, plus its
 * backpressure feedback on `<ns>.telemetry.feedback`). Both run from their builds (`pnpm bench`
 * builds first), each on its own Redis connections, as two services would.
 *
 * The provider is the pipeline's SyntheticProvider stopped after BENCH_E2E_BARS bars, added to the
 * running pipeline's router with a budget of 1e9 records/s (burst 1e6): far above what the system
 * carries, so the measured rate is the system's, not the token bucket's. Store feedback still acts:
 * `soft` halves that budget (no effect at this size) and `hard` scales it to 0, which pauses the
 * provider until the store reports `ok` again; that backpressure is part of what is measured.
 *
 * Figures (bench/results/e2e.json):
 *  - bars_per_s: BENCH_E2E_BARS over the time from the provider's first read to the store's
 *    written-rows counter reaching BENCH_E2E_BARS (rows counted after each batch's COMMIT; the table's
 *    count(*) is checked against it at the end);
 *  - latency, sampled (every bar of one symbol in SYMBOLS): from the pipeline's publishBatch call that
 *    carried the bar (and, second figure, from the envelope's `ts`, i.e. when the pipeline batched
 *    the record) to the row's COMMIT, observed through LISTEN on an AFTER INSERT trigger added to the
 *    scratch table for that one symbol (NOTIFY is delivered at commit);
 *  - feedback events by level, as the store emitted them and as the pipeline received them;
 *  - peak RSS of the process (both services).
 *
 * Every run uses its own stream namespace and Postgres schema and removes both afterwards.
 * Env: REDIS_URL, DATABASE_URL (127.0.0.1 defaults), BENCH_E2E_BARS (default 500000, ~10 s here), and any
 * MDS_* / PIPELINE_* setting to override the ones below.
 */
import type { Registry } from 'prom-client';
import type { EventEnvelope, FeedbackEvent } from '@mdp/contracts';
import { createEventBus, type EventBus } from '@mdp/pulse';
import { envWithPrefix, openBenchRun, percentile, runBench } from '@mdp/testing';
import {
  DATABASE_URL,
  PIPELINE_TUNED,
  REDIS_URL,
  rowsInBars,
  storeRequire,
  STORE_TUNED,
  watchCommits,
} from './e2e-support';

// The services run from their builds: NestJS needs the decorator metadata tsc emits, which tsx's
// esbuild transform does not.
/* eslint-disable @typescript-eslint/no-require-imports */
const { bootstrap: startPipeline } =
  require('../dist/bootstrap') as typeof import('../src/bootstrap');
const { ProviderRouter } =
  require('../dist/router/provider-router') as typeof import('../src/router/provider-router');
const { SyntheticProvider } =
  require('../dist/providers/synthetic-provider') as typeof import('../src/providers/synthetic-provider');
/* eslint-enable @typescript-eslint/no-require-imports */

// The store is another app: it is loaded from its build. Typed here by the little this benchmark
// uses (its sources are outside this package's type-check).
interface StoreApp {
  started: Promise<boolean>;
  registry: Registry;
  coordinator: { size: number; capacity: number; health(): { workers_alive: number } };
  feedback: { subscribe(fn: (event: FeedbackEvent) => void): () => void };
  close(): Promise<void>;
}
const { bootstrap: startStore } = storeRequire('./dist/bootstrap') as {
  bootstrap(opts: {
    port: number;
    handleSignals: boolean;
    databaseUrl: string;
    env: Record<string, string | undefined>;
  }): Promise<StoreApp>;
};

const N = Number(process.env.BENCH_E2E_BARS ?? 500_000);
const SYMBOLS = Array.from({ length: 100 }, (_, i) => `S${String(i).padStart(3, '0')}`);
/** Latency is sampled on every bar of this symbol (1 bar in SYMBOLS.length). */
const SAMPLE_SYMBOL = SYMBOLS[0];
const PROVIDER = 'synthetic';
const BUDGET = { rate: 1e9, burst: 1e6 };
const LEVELS = ['ok', 'soft', 'hard'] as const;

const now = () => performance.timeOrigin + performance.now();
const round = (x: number) => Math.round(x * 10) / 10;
const summary = (xs: number[]) => ({
  samples: xs.length,
  p50: round(percentile(xs, 50)),
  p99: round(percentile(xs, 99)),
  max: round(Math.max(...xs)),
});

/**
 * The pipeline's bus, seen through a wrapper that notes when each sampled bar is handed to
 * publishBatch (and its envelope `ts`). Everything else goes straight to the real bus.
 */
function timedBus(
  bus: EventBus,
  onBars: (envelopes: EventEnvelope[], at: number) => void,
  onPublished: (n: number) => void,
): EventBus {
  return new Proxy(bus, {
    get(target, prop) {
      if (prop === 'publishBatch')
        return async (stream: string, envelopes: EventEnvelope[], opts?: object) => {
          if (stream === 'md.bars') onBars(envelopes, now());
          const ids = await target.publishBatch(stream, envelopes, opts);
          if (stream === 'md.bars') onPublished(envelopes.length);
          return ids;
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function counterSum(
  registry: Registry,
  name: string,
  by?: string,
): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const key = by ? String(v.labels[by]) : 'total';
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

async function main(): Promise<Record<string, unknown>> {
  const run = await openBenchRun({ redisUrl: REDIS_URL, databaseUrl: DATABASE_URL });
  const { ns, schema } = run;
  let peakRss = process.memoryUsage().rss;
  const rssSampler = setInterval(
    () => (peakRss = Math.max(peakRss, process.memoryUsage.rss())),
    50,
  );

  // Sampled bars by market ts (seconds): when publishBatch was called, and the envelope ts (ms).
  const publishedAt = new Map<number, number>();
  const batchedAt = new Map<number, number>();
  const publishToWritten: number[] = [];
  const batchedToWritten: number[] = [];
  let barsPublished = 0;
  let allPublishedAt: number | undefined;
  const pipelineBus = timedBus(
    createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns }),
    (envelopes, at) => {
      for (const e of envelopes)
        if (e.key === SAMPLE_SYMBOL) {
          const ts = (e.payload as { ts: number }).ts;
          publishedAt.set(ts, at);
          batchedAt.set(ts, e.ts * 1000);
        }
    },
    (n) => {
      barsPublished += n;
      if (barsPublished >= N) allPublishedAt ??= now();
    },
  );
  const emitted = { ok: 0, soft: 0, hard: 0 };
  let store: StoreApp | undefined;
  let pipeline: Awaited<ReturnType<typeof startPipeline>> | undefined;

  try {
    const storeEnv: Record<string, string | undefined> = {
      ...STORE_TUNED,
      ...envWithPrefix('MDS_'),
      EVENT_BUS_BACKEND: 'redis',
      REDIS_URL,
      MD_NAMESPACE: ns,
      MDS_DLQ_DIR: run.dlqDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    store = await startStore({
      port: 0,
      handleSignals: false,
      databaseUrl: schema.url,
      env: storeEnv,
    });
    if (!(await store.started)) throw new Error('store did not start');
    store.feedback.subscribe((e) => emitted[e.level]++);

    // Migrations have run: watch commits of the sampled symbol's rows.
    await watchCommits(run, SAMPLE_SYMBOL, (ts) => {
      const at = now();
      const published = publishedAt.get(ts);
      const batched = batchedAt.get(ts);
      if (published === undefined || batched === undefined) return; // e.g. a batch written twice
      publishedAt.delete(ts);
      batchedAt.delete(ts);
      publishToWritten.push(at - published);
      batchedToWritten.push(at - batched);
    });

    const pipelineEnv: Record<string, string | undefined> = {
      ...PIPELINE_TUNED,
      ...envWithPrefix('PIPELINE_'),
      EVENT_BUS_BACKEND: 'redis',
      REDIS_URL,
      MD_NAMESPACE: ns,
      PIPELINE_PROVIDERS: 'none',
      PIPELINE_FB_PROVIDER: PROVIDER,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    console.log(
      '[e2e bench] starting the pipeline with no provider (its warning that PIPELINE_FB_PROVIDER names no running provider is expected: the provider is added once it runs)',
    );
    pipeline = await startPipeline({
      port: 0,
      handleSignals: false,
      bus: pipelineBus,
      env: pipelineEnv,
    });
    const router = pipeline.app.get(ProviderRouter);

    const written = store.registry.getSingleMetric('mds_coord_items_written_total');
    if (!written) throw new Error('store registry has no mds_coord_items_written_total');
    const committed = async () => (await written.get()).values.reduce((n, v) => n + v.value, 0);
    const depths: number[] = [];
    const depthSampler = setInterval(() => depths.push(store!.coordinator.size), 20);

    console.log(
      `[e2e bench] ${N} bars: provider -> pipeline -> ${ns}.md.bars -> store -> PostgreSQL`,
    );
    const start = now();
    router.add(
      new SyntheticProvider({ name: PROVIDER, symbols: SYMBOLS, seed: 42, maxBars: N }),
      BUDGET,
    );
    let last = { rows: 0, at: start };
    for (;;) {
      const rows = await committed();
      if (rows >= N) break;
      if (rows !== last.rows) last = { rows, at: now() };
      else if (now() - last.at > 30_000)
        throw new Error(`no progress for 30 s at ${rows} of ${N} rows written`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (now() - start) / 1000;
    clearInterval(depthSampler);

    // The last notifications and feedback events (the queue draining to `ok`) may still be in flight.
    const received = () =>
      counterSum(pipeline!.registry, 'pipeline_feedback_events_received_total', 'level');
    const totalEmitted = () => emitted.ok + emitted.soft + emitted.hard;
    for (let i = 0; i < 200; i++) {
      const got = Object.values(await received()).reduce((a, b) => a + b, 0);
      if (got >= totalEmitted() && publishedAt.size === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const rows = await rowsInBars(run);
    if (rows !== N)
      throw new Error(`the store reported ${N} rows written but the table holds ${rows}`);
    const pipelineReceived = await received();
    const states = router.states();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const avgDepth = depths.reduce((a, b) => a + b, 0) / Math.max(1, depths.length);

    const figures = {
      mode: 'one process: pipeline and store services (bootstrap from dist), each on its own Redis connections',
      bars: N,
      bars_published: barsPublished,
      provider_records_read: states.find((s) => s.name === PROVIDER)?.records ?? 0,
      rows_in_db: rows,
      seconds: Number(seconds.toFixed(3)),
      // When the pipeline had published every bar: far below `seconds` means the store side limits.
      pipeline_published_all_s:
        allPublishedAt === undefined ? null : Number(((allPublishedAt - start) / 1000).toFixed(3)),
      bars_per_s: Math.round(N / seconds),
      latency_ms: {
        publish_to_written: summary(publishToWritten),
        batched_to_written: summary(batchedToWritten),
        sampled: `every bar of ${SAMPLE_SYMBOL} (1 in ${SYMBOLS.length}); written = COMMIT seen via LISTEN/NOTIFY`,
        unmatched_samples: publishedAt.size,
      },
      feedback_events: {
        store_emitted: emitted,
        pipeline_received: Object.fromEntries(LEVELS.map((l) => [l, pipelineReceived[l] ?? 0])),
      },
      peak_rss_mb: Math.round(peakRss / 2 ** 20),
      store_queue_depth_avg_pct: Number(((avgDepth / store.coordinator.capacity) * 100).toFixed(1)),
      store_workers_alive_at_end: store.coordinator.health().workers_alive,
      provider_budget: BUDGET,
      settings: {
        ...Object.fromEntries(
          Object.entries(storeEnv).filter(([k]) => k.startsWith('MDS_') && k !== 'MDS_DLQ_DIR'),
        ),
        ...Object.fromEntries(
          Object.entries(pipelineEnv).filter(([k]) => k.startsWith('PIPELINE_')),
        ),
      },
    };
    const lat = figures.latency_ms.publish_to_written;
    console.log(
      `[e2e bench] ${figures.bars_per_s.toLocaleString()} bars/s (${N} bars in ${figures.seconds} s, ${rows} rows in db), ` +
        `publish -> written p50 ${lat.p50} ms p99 ${lat.p99} ms (${lat.samples} samples), ` +
        `feedback ok/soft/hard ${emitted.ok}/${emitted.soft}/${emitted.hard}, peak RSS ${figures.peak_rss_mb} MB, ` +
        `store queue ${figures.store_queue_depth_avg_pct}% full on average`,
    );
    console.log('[e2e bench] figures', JSON.stringify(figures, null, 2));
    return figures;
  } finally {
    clearInterval(rssSampler);
    // Pipeline first, so nothing new arrives while the store drains.
    await pipeline?.close().catch((e) => console.error('[e2e bench] pipeline close:', e));
    await store?.close().catch((e) => console.error('[e2e bench] store close:', e));
    await pipelineBus.close();
    await run.close();
  }
}

runBench('e2e-one-process', main);
