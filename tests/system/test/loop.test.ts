/**
 * The backpressure loop under overload, the system as deployed. The store's sink is slowed down
 * (MDS_FAULT_SINK_MAX_ROWS_PER_SEC for MDS_FAULT_SINK_DURATION_SEC), so its queue crosses the high
 * watermark; `hard` reaches the pipeline, which stops publishing; the sink recovers, `ok` arrives,
 * the pipeline is back at its full rate; every published bar is in bars_ohlcv exactly once.
 *
 * The leg comes from SCHEMA_TRACK and EVENT_BUS_BACKEND (the contract matrix sets them; unset: v1
 * over Redis). On `redis` the three services are separate processes, and the mixed deployments
 * (store v2 + pipeline v1, and the reverse) run too. On `inmem` separate processes cannot share a
 * bus, so the leg runs the embedded system: the `pnpm start` launcher, all three services in one
 * process on one in-memory bus, PostgreSQL as in the other legs. `pnpm test` (no leg named) runs
 * the separate processes at v1 and the embedded system.
 */
import {
  describeWithPostgres,
  describeWithServices,
  ServiceEndpoint,
  ServiceProcess,
  sumMetric,
  waitFor,
} from '@mdp/testing';
import { legFromEnv, Leg } from './support/leg';
import {
  ENTRY,
  Env,
  expectEveryBarOnce,
  report,
  RSS_BOUND_MB,
  SMALL_STORE,
  SUBMITTED,
  syntheticPipeline,
  SystemUnderTest,
  Track,
  useSystem,
} from './support/system';

const leg: Leg = legFromEnv(process.env);

const BARS = 10_000;
const RATE = 2_000;
/** 400 rows/s against 2 000 offered: the queue (high watermark 1 600) fills within a second or two. */
const SLOW_SINK: Env = { MDS_FAULT_SINK_MAX_ROWS_PER_SEC: '400', MDS_FAULT_SINK_DURATION_SEC: '8' };

interface Sample {
  at: number;
  scale: number;
  published: number;
}

interface LoopRun {
  samples: Sample[];
  pipeline: Awaited<ReturnType<ServiceEndpoint['metrics']>>;
  store: Awaited<ReturnType<ServiceEndpoint['metrics']>>;
}

/** Samples the pipeline's scale and published count until the store has written every bar. */
async function watchLoop(
  sys: SystemUnderTest,
  store: ServiceEndpoint,
  pipeline: ServiceEndpoint,
  detail: () => string,
): Promise<LoopRun> {
  const samples: Sample[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        const m = await pipeline.metrics();
        samples.push({
          at: Date.now(),
          scale: sumMetric(m, 'pipeline_rate_scale', { provider: 'synthetic' }),
          published: sumMetric(m, 'pipeline_published_records_total'),
        });
      } catch {
        // a missed sample
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await sys.waitPersisted(BARS, 90_000, detail);
  } finally {
    done = true;
    await sampler;
  }
  await sys.metrics.scrapeAll();
  return { samples, pipeline: await pipeline.metrics(), store: await store.metrics() };
}

/** Records/s published between consecutive samples that both had `scale`. */
function rateWhile(samples: Sample[], scale: (s: number) => boolean, from = 0): number {
  let records = 0;
  let ms = 0;
  for (let i = Math.max(1, from); i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (!scale(a.scale) || !scale(b.scale)) continue;
    records += b.published - a.published;
    ms += b.at - a.at;
  }
  return ms > 0 ? Math.round((records * 1000) / ms) : NaN;
}

/** What every leg checks: hard reached the pipeline and stopped it, ok brought the full rate back. */
function expectTheLoop(run: LoopRun): { pausedRate: number; fullRate: number } {
  const { samples, pipeline, store } = run;
  expect(sumMetric(store, 'mds_feedback_events_total', { level: 'hard' })).toBeGreaterThanOrEqual(
    1,
  );
  expect(sumMetric(store, 'mds_feedback_events_total', { level: 'ok' })).toBeGreaterThanOrEqual(1);
  expect(
    sumMetric(pipeline, 'pipeline_feedback_events_received_total', { level: 'hard' }),
  ).toBeGreaterThanOrEqual(1);
  expect(
    sumMetric(pipeline, 'pipeline_feedback_events_received_total', { level: 'ok' }),
  ).toBeGreaterThanOrEqual(1);
  expect(
    sumMetric(pipeline, 'pipeline_rate_adjustments_total', { reason: 'hard' }),
  ).toBeGreaterThanOrEqual(1);
  // Back at full rate once the sink recovered, and it ran at scale 1 after having been at 0.
  expect(sumMetric(pipeline, 'pipeline_rate_scale', { provider: 'synthetic' })).toBe(1);
  expect(sumMetric(pipeline, 'pipeline_rate_effective_per_second', { provider: 'synthetic' })).toBe(
    RATE,
  );
  const firstPause = samples.findIndex((s) => s.scale === 0);
  expect(firstPause).toBeGreaterThanOrEqual(0);
  const lastPause = samples.length - 1 - [...samples].reverse().findIndex((s) => s.scale === 0);
  expect(samples.slice(lastPause + 1).some((s) => s.scale === 1)).toBe(true);
  const pausedRate = rateWhile(samples, (s) => s === 0);
  const fullRate = rateWhile(samples, (s) => s === 1, lastPause + 1);
  // While paused only what was already buffered goes out.
  expect(pausedRate).toBeLessThan(RATE / 4);
  return { pausedRate, fullRate };
}

/** The orchestrator watched the loop: both levels on telemetry.feedback, and the pipeline back at scale 1. */
async function expectOrchestratorSawTheLoop(
  orchestrator: ServiceEndpoint,
  detail: () => string,
): Promise<void> {
  const m = await waitFor(
    async () => {
      const m = await orchestrator.metrics();
      const settled =
        sumMetric(m, 'orchestrator_observed_events_total', {
          stream: 'telemetry.feedback',
          outcome: 'ok',
        }) >= 2 &&
        sumMetric(m, 'orchestrator_backpressure_level', { coordinator_id: 'store' }) === 0 &&
        sumMetric(m, 'orchestrator_rate_scale', { provider: 'synthetic' }) === 1;
      return settled && m;
    },
    {
      timeoutMs: 15_000,
      what: 'the orchestrator to observe hard, ok and the restored rate',
      detail,
    },
  );
  expect(
    sumMetric(m, 'orchestrator_observed_events_total', {
      stream: 'telemetry.rate_adjustment',
      outcome: 'ok',
    }),
  ).toBeGreaterThanOrEqual(2);
  expect(sumMetric(m, 'orchestrator_observed_events_total', { outcome: 'invalid' })).toBe(0);
}

(leg.backend === 'redis' ? describeWithServices : describe.skip)(
  'the overload loop, separate processes over Redis and PostgreSQL',
  () => {
    const newSystem = useSystem();

    const combos: Array<[Track, Track]> = [
      [leg.track, leg.track],
      ['v2', 'v1'],
      ['v1', 'v2'],
    ];

    for (const [storeTrack, pipelineTrack] of combos) {
      it(`store on ${storeTrack}, pipeline on ${pipelineTrack}: hard slows the pipeline, ok restores it, every bar once`, async () => {
        const s = await newSystem();
        const store = await s.start('store', {
          ...s.sharedEnv(storeTrack),
          ...SMALL_STORE,
          ...SLOW_SINK,
        });
        const orchestrator = await s.start('orchestrator', s.sharedEnv(storeTrack));
        await store.waitReady();
        await orchestrator.waitReady();
        const pipeline = await s.start('pipeline', {
          ...s.sharedEnv(pipelineTrack),
          ...syntheticPipeline(BARS, RATE),
        });
        await pipeline.waitReady();
        const logs = () => [store, pipeline].map((p) => p.output(15)).join('\n');

        const run = await watchLoop(s, store.endpoint, pipeline.endpoint, logs);
        const rates = expectTheLoop(run);
        await expectOrchestratorSawTheLoop(orchestrator.endpoint, () => orchestrator.output(15));

        const o = await s.outcome();
        report(
          `loop store=${storeTrack} pipeline=${pipelineTrack} redis`,
          o.figures,
          `rate_paused=${rates.pausedRate}/s rate_full=${rates.fullRate}/s`,
        );

        expect(o.published.entries).toBe(BARS);
        expectEveryBarOnce(o, BARS);
        expect(o.handledTwice).toBe(0);
        expect(o.deadLettered).toBe(0);
      });
    }
  },
);

// `pnpm test` (no leg named) runs both: the separate processes above and the launcher's embedded mode.
(leg.backend === 'inmem' || !leg.named ? describeWithPostgres : describe.skip)(
  'the overload loop, embedded (one process, in-memory bus)',
  () => {
    const newSystem = useSystem();

    it(`on ${leg.track}: hard slows the pipeline, ok restores it, every bar once`, async () => {
      // No Redis: the embedded system runs on its in-memory bus.
      const s = await newSystem('redis://127.0.0.1:1/0');
      const launcher = ServiceProcess.start({
        name: 'embedded',
        script: ENTRY.launcher,
        env: {
          ...s.sharedEnv(leg.track),
          EVENT_BUS_BACKEND: 'inmem',
          REDIS_URL: undefined,
          // Each service on a free port; the launcher's banner names them.
          STORE_PORT: '0',
          PIPELINE_PORT: '0',
          ORCH_PORT: '0',
          MDS_DLQ_DIR: s.dlqDir,
          ...SMALL_STORE,
          ...SLOW_SINK,
          ...syntheticPipeline(BARS, RATE),
        },
      });
      await launcher.waitForOutput(/Ctrl-C stops/, 30_000);
      const [, storeUrl] = await launcher.waitForOutput(/^ {2}store +(http:\S+)\/health/m);
      const [, pipelineUrl] = await launcher.waitForOutput(/^ {2}pipeline +(http:\S+)\/health/m);
      const [, orchestratorUrl] = await launcher.waitForOutput(
        /^ {2}orchestrator +(http:\S+)\/health/m,
      );
      const store = new ServiceEndpoint('store', storeUrl);
      const pipeline = new ServiceEndpoint('pipeline', pipelineUrl);
      s.metrics.watch(store);
      await store.waitReady(20_000, () => launcher.output());

      const run = await watchLoop(s, store, pipeline, () => launcher.output(30));
      const rates = expectTheLoop(run);
      await expectOrchestratorSawTheLoop(new ServiceEndpoint('orchestrator', orchestratorUrl), () =>
        launcher.output(15),
      );

      // The in-memory bus has no stream to read back: the provider's bars are distinct keys by
      // construction (one bar per symbol and step), so the published count is the key count.
      const published = sumMetric(run.pipeline, 'pipeline_published_records_total');
      const persisted = await s.persisted();
      const handledTwice = Math.max(0, s.metrics.total(SUBMITTED) - published);
      report(
        `loop track=${leg.track} embedded inmem`,
        {
          published,
          persisted: persisted.keys.size,
          handledTwice,
          deadLettered: 0,
          lost: published - persisted.keys.size,
          maxRssMb: s.metrics.maxRssMb,
        },
        `rate_paused=${rates.pausedRate}/s rate_full=${rates.fullRate}/s`,
      );

      expect(published).toBe(BARS);
      expect(persisted.rows).toBe(BARS);
      expect(persisted.keys.size).toBe(BARS);
      expect(handledTwice).toBe(0);
      expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
    });
  },
);
