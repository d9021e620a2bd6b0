/**
 * The frame of a benchmark on the shared Redis and PostgreSQL: its own stream namespace, schema and
 * dead-letter directory, removed afterwards, and the process exit code.
 */
import { rmSync } from 'fs';
import Redis from 'ioredis';
import { Client } from 'pg';
import { benchMachine, writeBenchResult } from './bench';
import { createTestSchema, deleteRedisPrefix, uniqueId, type TestSchema } from './fixtures';

export interface BenchRun {
  /** Stream namespace (`MD_NAMESPACE`) and Redis key prefix of this run. */
  ns: string;
  schema: TestSchema;
  redis: Redis;
  /** Connected to the run's schema. */
  pg: Client;
  /** For the store's `MDS_DLQ_DIR`. */
  dlqDir: string;
  /** Removes the namespace's keys, the schema and the dead-letter directory; closes the connections. */
  close(): Promise<void>;
}

export async function openBenchRun(urls: {
  redisUrl: string;
  databaseUrl: string;
}): Promise<BenchRun> {
  const ns = uniqueId('bench');
  const schema = await createTestSchema(urls.databaseUrl);
  const redis = new Redis(urls.redisUrl);
  const pg = new Client({ connectionString: schema.url });
  await pg.connect();
  const dlqDir = `/tmp/${ns}-dlq`;
  return {
    ns,
    schema,
    redis,
    pg,
    dlqDir,
    async close() {
      await deleteRedisPrefix(redis, ns);
      redis.disconnect();
      await pg.end();
      await schema.drop();
      rmSync(dlqDir, { recursive: true, force: true });
    },
  };
}

/** The environment variables starting with one of `prefixes` (a service's settings to pass on). */
export function envWithPrefix(...prefixes: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && prefixes.some((p) => k.startsWith(p))) out[k] = v;
  return out;
}

/**
 * Runs a benchmark's `main`, writes the figures it returns to `bench/results/<name>.json` (with the
 * machine) and exits: 0 when it resolves, 1 with the error when it throws.
 */
export function runBench(name: string, main: () => Promise<Record<string, unknown>>): void {
  main().then(
    (figures) => {
      console.log(`[${name} bench] machine`, JSON.stringify(benchMachine()));
      console.log(`[${name} bench] wrote ${writeBenchResult(name, figures)}`);
      process.exit(0);
    },
    (err) => {
      console.error(`[${name} bench] failed:`, err);
      process.exit(1);
    },
  );
}
