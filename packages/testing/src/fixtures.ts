/**
 * Per-test isolation on shared servers: every suite gets its own Redis key prefix and its own
 * Postgres schema, so suites run in parallel and leave nothing behind.
 */
import { randomBytes } from 'crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { ENV_KEYS } from './env-keys';
import { ServiceName } from './services';

/** `t<hex>`: safe as a Redis key prefix, a stream namespace and a Postgres identifier. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

function urlOf(name: ServiceName): string | undefined {
  return process.env[ENV_KEYS[name].url];
}

function skipReasonOf(name: ServiceName): string {
  return (
    process.env[ENV_KEYS[name].skip] ??
    'not resolved: this Jest project does not use the services preset (jest.preset.js preset({ services: true }))'
  );
}

export function redisUrl(): string {
  const url = urlOf('redis');
  if (!url) throw new Error(`Redis unavailable: ${skipReasonOf('redis')}`);
  return url;
}

/** The environment of a service under test on the shared Redis, in `namespace`, logging nothing. */
export function sharedRedisEnv(namespace: string) {
  return {
    EVENT_BUS_BACKEND: 'redis',
    REDIS_URL: redisUrl(),
    MD_NAMESPACE: namespace,
    LOG_LEVEL: 'silent',
  };
}

export function databaseUrl(): string {
  const url = urlOf('postgres');
  if (!url) throw new Error(`Postgres unavailable: ${skipReasonOf('postgres')}`);
  return url;
}

function describeWith(names: ServiceName[], title: string, body: () => void): void {
  const missing = names.filter((n) => !urlOf(n));
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  const reason = missing.map((n) => `${n}: ${skipReasonOf(n)}`).join('; ');
  // The reason is part of the suite name so a skipped integration suite is visible in every report.
  describe.skip(`${title} [skipped: ${reason}]`, body);
}

export const describeWithRedis = (title: string, body: () => void) =>
  describeWith(['redis'], title, body);
export const describeWithPostgres = (title: string, body: () => void) =>
  describeWith(['postgres'], title, body);
export const describeWithServices = (title: string, body: () => void) =>
  describeWith(['redis', 'postgres'], title, body);

/**
 * Deletes every key under `prefix` (SCAN, never KEYS), and those whose name starts with `{prefix`:
 * Pulse puts a stream's consumer beats in its cluster slot as `{<stream>}.beats`.
 */
export async function deleteRedisPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
}

export interface TestSchema {
  schema: string;
  /** Connection string whose sessions default to the test schema. */
  url: string;
  drop: () => Promise<void>;
}

/** Creates a fresh schema and returns a URL whose search_path points at it. */
export async function createTestSchema(base = databaseUrl()): Promise<TestSchema> {
  const schema = uniqueId('t_');
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema},public`);
  return {
    schema,
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
