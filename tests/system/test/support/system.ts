/**
 * One system under test: a private stream namespace and Postgres schema, the services started as
 * separate processes from their built `dist`, and the figures every system test reports (published,
 * persisted, handled twice, dead-lettered, lost, peak RSS).
 */
import { existsSync, mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import Redis from 'ioredis';
import { Client } from 'pg';
import {
  createTestSchema,
  deleteRedisPrefix,
  freePort,
  redisUrl,
  ServiceEndpoint,
  ServiceProcess,
  stopAll,
  sumMetric,
  TestSchema,
  uniqueId,
  waitFor,
} from '@mdp/testing';

export const ROOT = path.resolve(__dirname, '../../../..');

export const ENTRY = {
  store: path.join(ROOT, 'apps/store/dist/main.js'),
  pipeline: path.join(ROOT, 'apps/pipeline/dist/main.js'),
  orchestrator: path.join(ROOT, 'apps/orchestrator/dist/main.js'),
  launcher: path.join(ROOT, 'infra/scripts/start.mjs'),
} as const;

/** As the services are run in production (see the apps' `start` scripts). */
const NODE_ARGS = ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'];

export function assertBuilt(): void {
  const missing = Object.values(ENTRY).filter((f) => !existsSync(f));
  if (missing.length)
    throw new Error(
      `system tests run the built services; run \`pnpm build\` first (missing: ${missing.join(', ')})`,
    );
}

export type Track = 'v1' | 'v2';
export type Env = Record<string, string | undefined>;

/** A bar's natural key as the store keys `bars_ohlcv` (symbols upper-case, ts in epoch seconds). */
export const barKey = (symbol: string, interval: string, ts: number) =>
  `${symbol.toUpperCase()}|${interval}|${ts}`;

/** Store settings small enough that a few thousand bars fill the queue (high 1 600, low 800). */
export const SMALL_STORE: Env = {
  MDS_COORDINATOR_CAPACITY: '2000',
  MDS_COORDINATOR_HIGH_WATERMARK: '1600',
  MDS_COORDINATOR_LOW_WATERMARK: '800',
  MDS_COORDINATOR_WORKERS: '2',
  MDS_COORDINATOR_BATCH_SIZE: '200',
  MDS_COORDINATOR_FLUSH_INTERVAL: '0.05',
  MDS_INGEST_BATCH_SIZE: '200',
  MDS_INGEST_BLOCK_MS: '200',
};

/** A synthetic provider publishing `bars` bars at `rate`/s over four symbols, then stopping. */
export function syntheticPipeline(bars: number, rate: number): Env {
  return {
    PIPELINE_PROVIDERS: 'synthetic',
    PIPELINE_SYNTHETIC_SYMBOLS: 'AAA,BBB,CCC,DDD',
    PIPELINE_SYNTHETIC_INTERVAL: '1s',
    PIPELINE_SYNTHETIC_MAX_BARS: String(bars),
    PIPELINE_SYNTHETIC_RATE: String(rate),
    PIPELINE_SYNTHETIC_BURST: String(Math.max(1, Math.round(rate / 10))),
    PIPELINE_BATCH_SIZE: '200',
    PIPELINE_BATCH_FLUSH_MS: '50',
    PIPELINE_IDEMPOTENCY: 'memory',
  };
}

export interface Figures {
  published: number;
  persisted: number;
  handledTwice: number;
  deadLettered: number;
  lost: number;
  maxRssMb: number;
}

/** The one line each system test prints. */
export function report(test: string, f: Figures, extra = ''): void {
  const line =
    `[system] ${test}: published=${f.published} persisted=${f.persisted} handled_twice=${f.handledTwice} ` +
    `dead_lettered=${f.deadLettered} lost=${f.lost} max_rss_mb=${f.maxRssMb}${extra ? ` ${extra}` : ''}`;
  process.stdout.write(`${line}\n`);
}

/** Resident memory every test must stay under, per process (generous: the services idle at ~120 MB). */
export const RSS_BOUND_MB = 1024;

interface Watched {
  endpoint: ServiceEndpoint;
  last?: Map<string, number>;
}

/**
 * Scrapes every watched endpoint's /metrics twice a second: the peak RSS, and the last value of the
 * counters a test needs after a process is gone (a SIGKILLed store keeps its last scrape).
 */
export class MetricsWatch {
  private readonly watched: Watched[] = [];
  private timer?: NodeJS.Timeout;
  maxRssMb = 0;

  constructor(
    private readonly counters: Array<{ name: string; labels?: Record<string, string> }>,
  ) {}

  watch(endpoint: ServiceEndpoint): void {
    this.watched.push({ endpoint });
    if (!this.timer) this.timer = setInterval(() => void this.scrapeAll(), 500);
  }

  async scrapeAll(): Promise<void> {
    await Promise.all(this.watched.map((w) => this.scrape(w)));
  }

  /** Sum over every watched endpoint (every process incarnation) of the counter's last value. */
  total(name: string): number {
    let sum = 0;
    for (const w of this.watched) sum += w.last?.get(name) ?? 0;
    return sum;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async scrape(w: Watched): Promise<void> {
    let samples;
    try {
      samples = await w.endpoint.metrics();
    } catch {
      return; // not up yet, or gone: keep what was seen last
    }
    const rss = Math.round(sumMetric(samples, 'process_resident_memory_bytes') / 2 ** 20);
    this.maxRssMb = Math.max(this.maxRssMb, rss);
    const last = new Map<string, number>();
    for (const c of this.counters) last.set(c.name, sumMetric(samples, c.name, c.labels));
    w.last = last;
  }
}

/** Rows the store handed to its writer: a row handed over twice is a message handled twice. */
export const SUBMITTED = 'mds_coord_items_submitted_total';

export class SystemUnderTest {
  readonly namespace = uniqueId('sys');
  readonly dlqDir = mkdtempSync(path.join(os.tmpdir(), 'mdp-sys-dlq-'));
  readonly metrics = new MetricsWatch([{ name: SUBMITTED }]);
  private pg?: Client;
  private client?: Redis;

  private constructor(
    readonly schema: TestSchema,
    /** Redis the services use (the shared one, or a private server). */
    readonly redisUrl: string,
    /** On the shared server the namespace is removed after the test; a private one goes as a whole. */
    private readonly onSharedRedis: boolean,
  ) {}

  /** A system on the shared Redis, or on `privateRedisUrl` (a `RedisServer`, a cluster, nothing at all). */
  static async create(privateRedisUrl?: string): Promise<SystemUnderTest> {
    assertBuilt();
    return new SystemUnderTest(
      await createTestSchema(),
      privateRedisUrl ?? redisUrl(),
      privateRedisUrl === undefined,
    );
  }

  get barsStream(): string {
    return `${this.namespace}.md.bars`;
  }

  /**
   * A client of the system's Redis for reading the streams back, connected on first use: a test
   * that starts or kills a private server uses it once the server is up again.
   */
  get redis(): Redis {
    this.client ??= new Redis(this.redisUrl);
    return this.client;
  }

  /** The environment every service of this system shares. */
  sharedEnv(track: Track): Env {
    return {
      EVENT_BUS_BACKEND: 'redis',
      PULSE_ENABLED: 'true',
      REDIS_URL: this.redisUrl,
      MD_NAMESPACE: this.namespace,
      SCHEMA_TRACK: track,
      DATABASE_URL: this.schema.url,
      LOG_LEVEL: 'info',
    };
  }

  async start(
    service: 'store' | 'pipeline' | 'orchestrator',
    env: Env,
    name: string = service,
  ): Promise<ServiceProcess> {
    const port = await freePort();
    const defaults: Env =
      service === 'store'
        ? { MDS_CONSUMER_NAME: 'store-1', MDS_DLQ_DIR: this.dlqDir }
        : service === 'pipeline'
          ? { PIPELINE_CONSUMER_NAME: 'pipeline-1' }
          : {};
    const proc = ServiceProcess.start({
      name,
      script: ENTRY[service],
      nodeArgs: NODE_ARGS,
      env: { ...defaults, ...env, PORT: String(port) },
      port,
    });
    this.metrics.watch(proc.endpoint);
    return proc;
  }

  /**
   * The store (with SMALL_STORE) and then a synthetic pipeline publishing `bars` bars at `rate`/s,
   * both on v1, each waited ready unless `ready` is false. `store` and `pipeline` add to (or
   * override) their environments; the environments are returned for restarting a service as it was.
   */
  async startStoreAndPipeline(load: {
    bars: number;
    rate: number;
    store?: Env;
    pipeline?: Env;
    ready?: boolean;
  }): Promise<{
    store: ServiceProcess;
    pipeline: ServiceProcess;
    storeEnv: Env;
    pipelineEnv: Env;
  }> {
    const ready = load.ready ?? true;
    const storeEnv = { ...this.sharedEnv('v1'), ...SMALL_STORE, ...load.store };
    const pipelineEnv = {
      ...this.sharedEnv('v1'),
      ...syntheticPipeline(load.bars, load.rate),
      ...load.pipeline,
    };
    const store = await this.start('store', storeEnv);
    if (ready) await store.waitReady();
    const pipeline = await this.start('pipeline', pipelineEnv);
    if (ready) await pipeline.waitReady();
    return { store, pipeline, storeEnv, pipelineEnv };
  }

  async db(): Promise<Client> {
    if (!this.pg) {
      this.pg = new Client({ connectionString: this.schema.url });
      await this.pg.connect();
    }
    return this.pg;
  }

  /** Distinct bar keys in `bars_ohlcv`, and the row count (more rows than keys cannot happen: it is the key). */
  async persisted(): Promise<{ keys: Set<string>; rows: number }> {
    const db = await this.db();
    const exists = await db.query(`SELECT to_regclass('bars_ohlcv') IS NOT NULL AS ok`);
    if (!exists.rows[0].ok) return { keys: new Set(), rows: 0 };
    const { rows } = await db.query<{ symbol: string; interval: string; ts: string }>(
      `SELECT symbol, interval, extract(epoch FROM ts)::bigint::text AS ts FROM bars_ohlcv`,
    );
    return {
      keys: new Set(rows.map((r) => barKey(r.symbol, r.interval, Number(r.ts)))),
      rows: rows.length,
    };
  }

  async persistedCount(): Promise<number> {
    const db = await this.db();
    const exists = await db.query(`SELECT to_regclass('bars_ohlcv') IS NOT NULL AS ok`);
    if (!exists.rows[0].ok) return 0;
    return Number((await db.query(`SELECT count(*)::int AS n FROM bars_ohlcv`)).rows[0].n);
  }

  /** Every bar entry on `<ns>.md.bars`: entries, and their distinct keys. */
  async published(): Promise<{ entries: number; keys: Set<string> }> {
    const keys = new Set<string>();
    let entries = 0;
    let from = '-';
    for (;;) {
      const page = await this.redis.xrange(this.barsStream, from, '+', 'COUNT', 5000);
      for (const [, fields] of page) {
        entries++;
        const json = fields[fields.indexOf('envelope') + 1];
        const bar = JSON.parse(json).payload as { symbol: string; interval: string; ts: number };
        keys.add(barKey(bar.symbol, bar.interval, bar.ts));
      }
      if (page.length < 5000) break;
      from = `(${page[page.length - 1][0]}`;
    }
    return { entries, keys };
  }

  /** Whether the `store` group has read every entry of `<ns>.md.bars` and acked or dead-lettered it. */
  async barsSettled(): Promise<boolean> {
    const groups = (await this.redis.xinfo('GROUPS', this.barsStream)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name === 'store') return Number(info.pending) === 0 && Number(info.lag) === 0;
    }
    return false;
  }

  async dlqLength(): Promise<number> {
    return this.redis.xlen(`${this.barsStream}.dlq`);
  }

  /** Waits until `bars_ohlcv` holds `n` rows. */
  async waitPersisted(n: number, timeoutMs: number, detail: () => string): Promise<void> {
    let seen = 0;
    await waitFor(async () => (seen = await this.persistedCount()) >= n, {
      timeoutMs,
      intervalMs: 250,
      what: `${n} rows in bars_ohlcv`,
      detail: () => `rows: ${seen}\n${detail()}`,
    });
  }

  /**
   * What a run left once it settled: the stream read back against the table, the dead letters, and
   * the rows handed to the writer beyond one per published entry (the counters scraped once more).
   */
  async outcome(): Promise<Outcome> {
    await this.metrics.scrapeAll();
    const published = await this.published();
    const persisted = await this.persisted();
    const lost = lostKeys(published.keys, persisted.keys);
    const handledTwice = Math.max(0, this.metrics.total(SUBMITTED) - published.entries);
    const deadLettered = await this.dlqLength();
    return {
      published,
      persisted,
      lost,
      handledTwice,
      deadLettered,
      figures: {
        published: published.keys.size,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered,
        lost: lost.length,
        maxRssMb: this.metrics.maxRssMb,
      },
    };
  }

  /** Stops every process, then removes the namespace, the schema and the dead-letter directory. */
  async close(): Promise<void> {
    this.metrics.stop();
    // A private server is stopped with everything else: let go of it first rather than reconnect.
    if (!this.onSharedRedis) this.client?.disconnect();
    await stopAll();
    await this.pg?.end().catch(() => undefined);
    if (this.onSharedRedis) {
      await deleteRedisPrefix(this.redis, this.namespace).catch(() => undefined);
      this.redis.disconnect();
    }
    await this.schema.drop().catch(() => undefined);
    rmSync(this.dlqDir, { recursive: true, force: true });
  }
}

export interface Outcome {
  /** Every entry of `<ns>.md.bars`, and their distinct keys. */
  published: { entries: number; keys: Set<string> };
  persisted: { keys: Set<string>; rows: number };
  /** Published keys that are not in the table. */
  lost: string[];
  handledTwice: number;
  deadLettered: number;
  /** The figures of the test's `[system]` line. */
  figures: Figures;
}

/**
 * The system of each test of the enclosing block: `const newSystem = useSystem()`, then
 * `const s = await newSystem()` in the test (`newSystem(url)` for a private Redis). After the test
 * every process is stopped and what the system made is removed.
 */
export function useSystem(): (privateRedisUrl?: string) => Promise<SystemUnderTest> {
  let sys: SystemUnderTest | undefined;
  afterEach(async () => {
    await sys?.close();
    sys = undefined;
  });
  return async (privateRedisUrl) => (sys = await SystemUnderTest.create(privateRedisUrl));
}

/** Every one of `bars` bars published, in the table once, none lost, and memory bounded. */
export function expectEveryBarOnce(o: Outcome, bars: number): void {
  expect(o.published.keys.size).toBe(bars);
  expect(o.lost).toEqual([]);
  expect(o.persisted.rows).toBe(bars);
  expect(o.figures.maxRssMb).toBeLessThan(RSS_BOUND_MB);
}

/** Missing from `published`, in neither the table nor (for good entries) the dead letters. */
export function lostKeys(published: Set<string>, persisted: Set<string>): string[] {
  const lost: string[] = [];
  for (const k of published) if (!persisted.has(k)) lost.push(k);
  return lost;
}

/** Samples `probe` every `everyMs` until stopped; returns every value seen. */
export function sampleWhile<T>(
  probe: () => Promise<T>,
  everyMs = 250,
): { stop: () => Promise<T[]> } {
  const seen: T[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      seen.push(await probe());
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** The warn-or-worse lines of a service's pino output (level >= 40), as `level msg` strings. */
export function warnings(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as {
        level?: number;
        msg?: string;
        err?: unknown;
        reason?: unknown;
      };
      if ((rec.level ?? 0) >= 40) out.push(`${rec.level} ${rec.msg ?? ''}`);
    } catch {
      // not a log record
    }
  }
  return out;
}
