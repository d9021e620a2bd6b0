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
const NODE_ARGS = ['--max-semi-space-size=64'];

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

  private constructor(
    readonly schema: TestSchema,
    /** Redis the services use (the shared one, or a private server). */
    readonly redisUrl: string,
  ) {}

  static async create(redisUrl: string): Promise<SystemUnderTest> {
    assertBuilt();
    return new SystemUnderTest(await createTestSchema(), redisUrl);
  }

  get barsStream(): string {
    return `${this.namespace}.md.bars`;
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
  async published(redis: Redis): Promise<{ entries: number; keys: Set<string> }> {
    const keys = new Set<string>();
    let entries = 0;
    let from = '-';
    for (;;) {
      const page = await redis.xrange(this.barsStream, from, '+', 'COUNT', 5000);
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

  async dlqLength(redis: Redis): Promise<number> {
    return redis.xlen(`${this.barsStream}.dlq`);
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

  /** Stops every process, then removes the namespace, the schema and the dead-letter directory. */
  async close(redis?: Redis): Promise<void> {
    this.metrics.stop();
    await stopAll();
    await this.pg?.end().catch(() => undefined);
    if (redis) await deleteRedisPrefix(redis, this.namespace).catch(() => undefined);
    await this.schema.drop().catch(() => undefined);
    rmSync(this.dlqDir, { recursive: true, force: true });
  }
}

/** Missing from `published`, in neither the table nor (for good entries) the dead letters. */
export function lostKeys(published: Set<string>, persisted: Set<string>): string[] {
  const lost: string[] = [];
  for (const k of published) if (!persisted.has(k)) lost.push(k);
  return lost;
}
