/**
 * `pnpm bench flow`: the backpressure loop, engaged, for each flow policy (step, then adaptive).
 *
 * The store and the pipeline run as separate processes from their builds, over Redis and PostgreSQL
 * (REDIS_URL, DATABASE_URL), each policy on a fresh stream namespace and Postgres schema. The
 * pipeline's synthetic provider offers BENCH_FLOW_RATE bars/s (default 4 000). The store's sink is
 * capped by its fault-injection setting at 5 000 rows/s (`MDS_FAULT_SINK_MAX_ROWS_PER_SEC`), then
 * stepped down 10x to 500 rows/s for BENCH_FLOW_SLOW_S seconds (default 20) and back up, at run time
 * through `PUT /admin/faults/sink` (MDS_FAULT_SINK_ADMIN). Then the freshness case: the sink is
 * stopped, a burst fills the queue past the high watermark, and once the store is `hard` it is
 * SIGKILLed; the pipeline must come back to full rate on its own. Finally the store is restarted
 * without faults to write everything, and what was published is checked against the table.
 *
 * Every 100 ms: the pipeline's scale and published count (/metrics), the store's queue depth
 * (/health) and rows written (/metrics), and the level last published on `<ns>.telemetry.feedback`.
 * Writes bench/results/flow.csv (those samples), flow.png (the chart) and flow.json (per policy:
 * time_at_capacity_s, sink_utilisation, level_flips_per_min, level_events_per_min, recovery_s, lost,
 * stale_recovery_s, and the settings).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Bar } from '@mdp/contracts';
import { createEnvelope, createEventBus } from '@mdp/pulse';
import {
  createTestSchema,
  deleteRedisPrefix,
  freePort,
  parsePrometheus,
  ServiceProcess,
  stopAll,
  sumMetric,
  uniqueId,
  waitFor,
  writeBenchResult,
} from '@mdp/testing';
import { renderFlowChart, type ChartPhase, type ChartSample } from './flow-chart';

interface PgClient {
  connect(): Promise<void>;
  query<R = Record<string, unknown>>(sql: string): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}
const ROOT = join(__dirname, '..', '..', '..');
const storeRequire = createRequire(join(ROOT, 'apps', 'store', 'package.json'));
const { Client } = storeRequire('pg') as {
  Client: new (opts: { connectionString: string }) => PgClient;
};

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RATE = Number(process.env.BENCH_FLOW_RATE ?? 4000);
const SLOW_S = Number(process.env.BENCH_FLOW_SLOW_S ?? 20);
const POLICIES = (process.env.BENCH_FLOW_POLICIES ?? 'step,adaptive').split(',');
const SINK_NORMAL = 5000;
const SINK_SLOW = SINK_NORMAL / 10;
const WARM_S = 8;
const AFTER_S = 10;
const SAMPLE_MS = 100;
const CAPACITY = 4000;
const ADMIN_TOKEN = randomUUID();

const STORE_ENV = {
  MDS_COORDINATOR_CAPACITY: String(CAPACITY),
  MDS_COORDINATOR_HIGH_WATERMARK: String(CAPACITY * 0.8),
  MDS_COORDINATOR_LOW_WATERMARK: String(CAPACITY * 0.5),
  MDS_COORDINATOR_WORKERS: '2',
  MDS_COORDINATOR_BATCH_SIZE: '100',
  MDS_COORDINATOR_FLUSH_INTERVAL: '0.02',
  MDS_INGEST_BATCH_SIZE: '200',
  MDS_INGEST_BLOCK_MS: '100',
  MDS_CONSUMER_NAME: 'store-flow',
  MDS_ADMIN_TOKEN: ADMIN_TOKEN,
};
const PIPELINE_ENV = {
  PIPELINE_PROVIDERS: 'synthetic',
  PIPELINE_FB_PROVIDER: 'synthetic',
  PIPELINE_SYNTHETIC_SYMBOLS: 'AAA,BBB,CCC,DDD',
  PIPELINE_SYNTHETIC_INTERVAL: '1s',
  PIPELINE_SYNTHETIC_RATE: String(RATE),
  PIPELINE_SYNTHETIC_BURST: String(Math.round(RATE / 10)),
  PIPELINE_BATCH_SIZE: '100',
  PIPELINE_BATCH_FLUSH_MS: '50',
  PIPELINE_IDEMPOTENCY: 'memory',
  PIPELINE_CONTROL_ENABLED: 'false',
  PIPELINE_CONSUMER_NAME: 'pipeline-flow',
};

type Phase = 'warm' | 'slow' | 'recovered' | 'stale' | 'drain';

interface Sample {
  t: number;
  phase: Phase;
  scale: number;
  published: number;
  written: number;
  queue: number;
  level: string;
}

interface LevelEvent {
  at: number;
  level: string;
  reason?: string;
}

interface PolicyFigures {
  time_at_capacity_s: number;
  sink_utilisation: number;
  level_flips_per_min: number;
  level_events_per_min: number;
  level_events_max_in_a_minute: number;
  recovery_s: number | null;
  lost: number;
  stale_recovery_s: number | null;
  published: number;
  persisted: number;
  feedback_events: { levels: number; refreshes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function metricsOf(url: string): Promise<ReturnType<typeof parsePrometheus>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
  return parsePrometheus(await res.text());
}

async function storeQueue(url: string): Promise<number> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as {
    components: Array<{ name: string; details: Record<string, string> }>;
  };
  const coord = body.components.find((c) => c.name === 'coordinator');
  return Number(coord?.details.queue_size ?? NaN);
}

async function setSink(url: string, maxRowsPerSec: number | null): Promise<void> {
  const res = await fetch(`${url}/admin/faults/sink`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ max_rows_per_sec: maxRowsPerSec }),
  });
  if (!res.ok)
    throw new Error(`PUT /admin/faults/sink answered ${res.status}: ${await res.text()}`);
}

/** Follows `<ns>.telemetry.feedback` from the start: every event the store published, in order. */
function followFeedback(redis: Redis, stream: string, events: LevelEvent[]): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    let from = '0-0';
    while (!stopped) {
      const res = (await redis.xread('COUNT', 500, 'BLOCK', 100, 'STREAMS', stream, from)) as Array<
        [string, Array<[string, string[]]>]
      > | null;
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          from = id;
          const env = JSON.parse(fields[fields.indexOf('envelope') + 1]) as {
            payload: { level: string; reason?: string };
          };
          events.push({ at: Date.now(), level: env.payload.level, reason: env.payload.reason });
        }
      }
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function runPolicy(policy: string) {
  const ns = uniqueId('flow');
  const schema = await createTestSchema(DATABASE_URL);
  const dlqDir = mkdtempSync(join(os.tmpdir(), 'mdp-flow-dlq-'));
  const redis = new Redis(REDIS_URL);
  const follower = new Redis(REDIS_URL);
  const shared = {
    EVENT_BUS_BACKEND: 'redis',
    PULSE_ENABLED: 'true',
    REDIS_URL,
    MD_NAMESPACE: ns,
    SCHEMA_TRACK: 'v2',
    DATABASE_URL: schema.url,
    LOG_LEVEL: 'warn',
  };
  const startStore = async (faults: Record<string, string>) => {
    const port = await freePort();
    const proc = ServiceProcess.start({
      name: `store-${policy}`,
      script: join(ROOT, 'apps/store/dist/main.js'),
      nodeArgs: ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'],
      env: { ...shared, ...STORE_ENV, MDS_DLQ_DIR: dlqDir, ...faults, PORT: String(port) },
      port,
    });
    await proc.waitReady(30_000);
    return proc;
  };
  const levelEvents: LevelEvent[] = [];
  const stopFollowing = followFeedback(follower, `${ns}.telemetry.feedback`, levelEvents);
  const samples: Sample[] = [];
  let phase: Phase = 'warm';
  const marks: Partial<Record<Phase | 'killed' | 'sink_recovered', number>> = {};
  let sampling = true;
  let store = await startStore({
    MDS_FAULT_SINK_ADMIN: 'true',
    MDS_FAULT_SINK_MAX_ROWS_PER_SEC: String(SINK_NORMAL),
  });
  const pipelinePort = await freePort();
  const pipeline = ServiceProcess.start({
    name: `pipeline-${policy}`,
    script: join(ROOT, 'apps/pipeline/dist/main.js'),
    nodeArgs: ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'],
    env: { ...shared, ...PIPELINE_ENV, PIPELINE_FLOW_POLICY: policy, PORT: String(pipelinePort) },
    port: pipelinePort,
  });
  let lost = NaN;
  let published = 0;
  let persisted = 0;
  try {
    await pipeline.waitReady(30_000);
    const t0 = Date.now();
    let writtenBase = 0; // rows written by earlier store processes (a restart starts its counter at 0)
    let lastWritten = 0;
    const sampler = (async () => {
      let next = Date.now();
      while (sampling) {
        next += SAMPLE_MS;
        const at = Date.now();
        const [p, s, q] = await Promise.allSettled([
          metricsOf(pipeline.endpoint.url),
          store.running ? metricsOf(store.endpoint.url) : Promise.reject(new Error('store down')),
          store.running ? storeQueue(store.endpoint.url) : Promise.reject(new Error('store down')),
        ]);
        if (p.status === 'fulfilled') {
          const written =
            s.status === 'fulfilled'
              ? writtenBase + sumMetric(s.value, 'mds_coord_items_written_total')
              : lastWritten;
          if (written < lastWritten) writtenBase = lastWritten; // the restarted store counts from 0
          lastWritten = Math.max(written, lastWritten);
          const lastLevel = levelEvents.filter((e) => e.reason !== 'refresh').at(-1)?.level ?? 'ok';
          samples.push({
            t: (at - t0) / 1000,
            phase,
            scale: sumMetric(p.value, 'pipeline_rate_scale', { provider: 'synthetic' }),
            published: sumMetric(p.value, 'pipeline_published_records_total'),
            written: lastWritten,
            queue: q.status === 'fulfilled' ? q.value : NaN,
            level: store.running ? lastLevel : 'none',
          });
        }
        // Behind (slow scrapes on a busy host): take the next sample at once, not a burst of them.
        next = Math.max(next, Date.now());
        await sleep(next - Date.now());
      }
    })();
    const mark = (name: keyof typeof marks) => (marks[name] = (Date.now() - t0) / 1000);

    await sleep(WARM_S * 1000);
    await setSink(store.endpoint.url, SINK_SLOW);
    phase = 'slow';
    mark('slow');
    await sleep(SLOW_S * 1000);
    await setSink(store.endpoint.url, SINK_NORMAL);
    phase = 'recovered';
    mark('sink_recovered');
    await sleep(AFTER_S * 1000);

    // Freshness: stop the sink, push the queue past the high watermark with a burst from another
    // producer, and kill the store once it has said `hard`.
    await setSink(store.endpoint.url, 1);
    phase = 'stale';
    mark('stale');
    const bus = createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns });
    const start = 2_000_000_000;
    const burst: Bar[] = Array.from({ length: CAPACITY }, (_, i) => ({
      provider: 'burst',
      symbol: 'BURST',
      interval: '1s',
      ts: start + i,
      open: 10,
      high: 11,
      low: 9,
      close: 10.5,
      volume: 100,
    }));
    await bus.publishBatch(
      'md.bars',
      burst.map((b) => createEnvelope('md.Bar', b, { key: b.symbol, track: 'v2' })),
    );
    await bus.close();
    await waitFor(
      async () => levelEvents.some((e) => e.level === 'hard' && e.at >= t0 + marks.stale! * 1000),
      { timeoutMs: 20_000, what: 'the store to publish hard' },
    );
    await waitFor(async () => (samples.at(-1)?.scale ?? 1) === 0, {
      timeoutMs: 10_000,
      what: 'the pipeline at scale 0',
    });
    await sleep(1000);
    store.killNow();
    await store.exited;
    mark('killed');
    const killedAt = marks.killed!;
    let staleRecovery: number | null = null;
    try {
      await waitFor(async () => samples.some((s) => s.t > killedAt && s.scale >= 0.999), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the pipeline back at full rate with the store dead',
      });
      staleRecovery = samples.find((s) => s.t > killedAt && s.scale >= 0.999)!.t - killedAt;
    } catch (err) {
      console.warn(String(err));
    }
    await sleep(1000);

    // Everything published must reach the table: stop the pipeline (it flushes), restart the store
    // without faults (same consumer name: it takes back its pending messages) and let it drain.
    phase = 'drain';
    await pipeline.stop();
    store = await startStore({});
    const keys = new Set<string>();
    let from = '-';
    for (;;) {
      const page = await redis.xrange(`${ns}.md.bars`, from, '+', 'COUNT', 5000);
      for (const [, fields] of page) {
        const bar = JSON.parse(fields[fields.indexOf('envelope') + 1]).payload as Bar;
        keys.add(`${bar.provider}|${bar.symbol.toUpperCase()}|${bar.interval}|${bar.ts}`);
      }
      if (page.length < 5000) break;
      from = `(${page[page.length - 1][0]}`;
    }
    published = keys.size;
    const pg = new Client({ connectionString: schema.url });
    await pg.connect();
    const count = async () =>
      Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM bars_ohlcv')).rows[0].n);
    try {
      await waitFor(async () => (persisted = await count()) >= published, {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: `${published} rows in bars_ohlcv`,
      });
    } catch (err) {
      console.warn(String(err));
    }
    const rows = await pg.query<{ provider: string; symbol: string; interval: string; ts: string }>(
      'SELECT provider, symbol, interval, extract(epoch FROM ts)::bigint::text AS ts FROM bars_ohlcv',
    );
    const inTable = new Set(
      rows.rows.map((r) => `${r.provider}|${r.symbol}|${r.interval}|${r.ts}`),
    );
    lost = [...keys].filter((k) => !inTable.has(k)).length;
    persisted = inTable.size;
    await pg.end();
    sampling = false;
    await sampler;
    return {
      figures: figuresOf(samples, levelEvents, marks, t0, {
        lost,
        published,
        persisted,
        staleRecovery,
      }),
      samples,
      marks,
      levelEvents,
    };
  } finally {
    sampling = false;
    await stopFollowing();
    await stopAll();
    follower.disconnect();
    await deleteRedisPrefix(redis, ns).catch(() => undefined);
    redis.disconnect();
    await schema.drop().catch(() => undefined);
    rmSync(dlqDir, { recursive: true, force: true });
  }
}

function figuresOf(
  samples: Sample[],
  events: LevelEvent[],
  marks: Partial<Record<string, number>>,
  t0: number,
  end: { lost: number; published: number; persisted: number; staleRecovery: number | null },
): PolicyFigures {
  const loop = samples.filter(
    (s) => s.phase === 'warm' || s.phase === 'slow' || s.phase === 'recovered',
  );
  let atCapacity = 0;
  for (let i = 1; i < loop.length; i++)
    if (loop[i].queue >= CAPACITY) atCapacity += loop[i].t - loop[i - 1].t;
  const slowFrom = samples.find((s) => s.phase === 'slow')!;
  const slowTo = samples.find((s) => s.phase === 'recovered')!;
  const utilisation = (slowTo.written - slowFrom.written) / (SINK_SLOW * (slowTo.t - slowFrom.t));
  const loopEnd = t0 + (marks.stale ?? 0) * 1000;
  const changes = events.filter((e) => e.reason !== 'refresh' && e.at <= loopEnd);
  let flips = 0;
  for (let i = 1; i < changes.length; i++) if (changes[i].level !== changes[i - 1].level) flips++;
  const minutes = (loopEnd - t0) / 60_000;
  let maxInMinute = 0;
  for (const e of changes)
    maxInMinute = Math.max(
      maxInMinute,
      changes.filter((x) => x.at >= e.at && x.at < e.at + 60_000).length,
    );
  const recoveredAt = marks.sink_recovered!;
  const back = samples.find((s) => s.t >= recoveredAt && s.scale >= 0.999);
  return {
    time_at_capacity_s: round(atCapacity, 1),
    sink_utilisation: round(utilisation, 3),
    level_flips_per_min: round(flips / minutes, 1),
    level_events_per_min: round(changes.length / minutes, 1),
    level_events_max_in_a_minute: maxInMinute,
    recovery_s: back ? round(back.t - recoveredAt, 2) : null,
    lost: end.lost,
    stale_recovery_s: end.staleRecovery === null ? null : round(end.staleRecovery, 2),
    published: end.published,
    persisted: end.persisted,
    feedback_events: {
      levels: events.filter((e) => e.reason !== 'refresh').length,
      refreshes: events.filter((e) => e.reason === 'refresh').length,
    },
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const results: Record<string, PolicyFigures> = {};
  const csv = [
    'policy,t_s,phase,offered_per_s,scale,allowed_per_s,queue_depth,queue_fill,sink_rows_per_s,level',
  ];
  const chart: ChartSample[] = [];
  const phases: ChartPhase[] = [];
  for (const policy of POLICIES) {
    console.log(
      `[flow] ${policy}: ${WARM_S} s at ${SINK_NORMAL} rows/s, ${SLOW_S} s at ${SINK_SLOW}, ${AFTER_S} s at ${SINK_NORMAL}, then the store killed while hard`,
    );
    const run = await runPolicy(policy);
    results[policy] = run.figures;
    console.log(`[flow] ${policy}: ${JSON.stringify(run.figures)}`);
    const s = run.samples;
    for (let i = 1; i < s.length; i++) {
      const dt = s[i].t - s[i - 1].t;
      const row = {
        policy,
        t_s: round(s[i].t, 2),
        offered_per_s: Math.max(0, Math.round((s[i].published - s[i - 1].published) / dt)),
        sink_rows_per_s: Math.max(0, Math.round((s[i].written - s[i - 1].written) / dt)),
        allowed_per_s: Math.round(s[i].scale * RATE),
        queue_fill: Number.isFinite(s[i].queue) ? s[i].queue / CAPACITY : 0,
      };
      if (s[i].phase === 'drain') continue;
      chart.push(row);
      csv.push(
        [
          policy,
          row.t_s,
          s[i].phase,
          row.offered_per_s,
          round(s[i].scale, 3),
          row.allowed_per_s,
          Number.isFinite(s[i].queue) ? s[i].queue : '',
          round(row.queue_fill, 3),
          row.sink_rows_per_s,
          s[i].level,
        ].join(','),
      );
    }
    phases.push({
      policy,
      phase: 'sink 10x slower',
      from_s: run.marks.slow!,
      to_s: run.marks.sink_recovered!,
    });
    phases.push({
      policy,
      phase: 'store killed',
      from_s: run.marks.killed!,
      to_s: s.filter((x) => x.phase !== 'drain').at(-1)!.t,
    });
  }
  const dir = join(ROOT, 'bench', 'results');
  writeFileSync(join(dir, 'flow.csv'), csv.join('\n') + '\n');
  const png = await renderFlowChart(
    chart,
    phases,
    `flow: ${RATE} bars/s offered; sink ${SINK_NORMAL} rows/s, ${SINK_SLOW} rows/s for ${SLOW_S} s, then the store killed while hard`,
  );
  writeFileSync(join(dir, 'flow.png'), png);
  const file = writeBenchResult('flow', {
    ...results,
    settings: {
      offered_per_s: RATE,
      sink_rows_per_s: { normal: SINK_NORMAL, slow: SINK_SLOW },
      slow_s: SLOW_S,
      store: { ...STORE_ENV, MDS_ADMIN_TOKEN: '(random)' },
      pipeline: PIPELINE_ENV,
      sample_ms: SAMPLE_MS,
      duration_s: round((Date.now() - started) / 1000, 1),
    },
  });
  console.log(`[flow] wrote ${file}, flow.csv and flow.png`);
  console.table(results);
}

main().catch(async (err) => {
  console.error(err);
  await stopAll().catch(() => undefined);
  process.exit(1);
});
