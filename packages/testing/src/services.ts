/**
 * Resolves the Redis and PostgreSQL endpoints integration tests run against.
 *
 * Order: REDIS_URL / DATABASE_URL from the environment, else a testcontainer. When neither works the
 * service is marked unavailable: with CI=true that is a hard failure (a missing service must never
 * turn into a silently green run), otherwise the dependent suites are skipped with the reason in
 * their name.
 */
import Redis from 'ioredis';
import { Client } from 'pg';

export type ServiceName = 'redis' | 'postgres';

export interface ResolvedService {
  url?: string;
  /** Why the service is unavailable, when it is. */
  skipReason?: string;
  /** Stops a container this run started. */
  stop?: () => Promise<void>;
}

const isCI = () => /^(1|true|yes)$/i.test(process.env.CI ?? '');

export async function pingRedis(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

async function pingPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startRedisContainer(): Promise<ResolvedService> {
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7').start();
  return { url: container.getConnectionUrl(), stop: async () => void (await container.stop()) };
}

async function startPostgresContainer(): Promise<ResolvedService> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:15').start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

const services = {
  redis: { env: 'REDIS_URL', ping: pingRedis, start: startRedisContainer },
  postgres: { env: 'DATABASE_URL', ping: pingPostgres, start: startPostgresContainer },
} as const;

export async function resolveService(name: ServiceName): Promise<ResolvedService> {
  const spec = services[name];
  const fromEnv = process.env[spec.env];
  if (fromEnv) {
    try {
      await spec.ping(fromEnv);
      return { url: fromEnv };
    } catch (err) {
      return unavailable(name, `${spec.env}=${fromEnv} does not answer: ${(err as Error).message}`);
    }
  }
  try {
    const started = await spec.start();
    await spec.ping(started.url!);
    return started;
  } catch (err) {
    return unavailable(
      name,
      `${spec.env} is not set and no testcontainer could start: ${firstLine(err)}`,
    );
  }
}

function unavailable(name: ServiceName, reason: string): ResolvedService {
  if (isCI()) {
    throw new Error(`[@mdp/testing] ${name} is required when CI=true: ${reason}`);
  }
  return { skipReason: reason };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}
