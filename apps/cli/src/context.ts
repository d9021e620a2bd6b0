/**
 * What every command needs: the environment (the services' own variables, validated the same way),
 * a Redis connection that fails fast with the URL in the message, the bus, and stream-name resolution
 * against the catalogue and what exists in Redis.
 */
import Redis from 'ioredis';
import { z } from 'zod';
import { STREAM_CATALOGUE } from '@mdp/contracts';
import { createEventBus, dlqStream, PulseBus } from '@mdp/pulse';
import { envOptionalString, envString, parseEnv, redact, sharedEnvShape } from '@mdp/service-kit';

/** A failure the user can act on: printed as one message, exit code 1, no stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export const CliEnv = z.object({
  REDIS_URL: sharedEnvShape.REDIS_URL,
  MD_NAMESPACE: sharedEnvShape.MD_NAMESPACE,
  SCHEMA_TRACK: sharedEnvShape.SCHEMA_TRACK,
  PUBLISHER_TOKEN: sharedEnvShape.PUBLISHER_TOKEN,
  /** The orchestrator's base URL for `mdp control`. */
  ORCH_URL: envString('http://127.0.0.1:8080').pipe(z.url({ error: 'must be an http(s) URL' })),
  ORCH_ADMIN_TOKEN: envOptionalString(),
});
export type CliEnv = z.infer<typeof CliEnv>;

export type Env = Record<string, string | undefined>;
export type Write = (text: string) => void;

export interface CliContext {
  env: CliEnv;
  /** The raw environment (the store's file DLQ reads its own settings from it). */
  rawEnv: Env;
  out: Write;
  err: Write;
  /** Whether stderr is a terminal (progress bars). */
  interactive: boolean;
}

export function loadEnv(env: Env): CliEnv {
  return parseEnv(CliEnv, env);
}

/** One connection, no retries: an unreachable Redis is an error naming the URL, not a hang. */
export async function connectRedis(env: CliEnv, timeoutMs = 3000): Promise<Redis> {
  const redis = new Redis(env.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  // The socket error (ECONNREFUSED, ENOTFOUND...) says more than the rejection ("Connection is closed").
  let socketError: Error | undefined;
  redis.on('error', (err: Error) => (socketError ??= err));
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (err) {
    // A connection that already ended needs nothing more; disconnect() on it would hold the process ~2 s.
    if (redis.status !== 'end') redis.disconnect();
    const why = (socketError ?? (err as Error)).message || String(err);
    throw new CliError(`cannot reach Redis at ${redact(env.REDIS_URL)}: ${why} (set REDIS_URL)`);
  }
}

/** The bus on Redis, after checking Redis answers (so the error names the URL). */
export async function openBus(env: CliEnv): Promise<PulseBus> {
  (await connectRedis(env)).disconnect();
  return createEventBus({
    backend: 'redis',
    redisUrl: env.REDIS_URL,
    namespace: env.MD_NAMESPACE,
    track: env.SCHEMA_TRACK,
    publisherToken: env.PUBLISHER_TOKEN,
  }) as PulseBus;
}

/** `.dlq`: the suffix Pulse gives a stream's dead-letter stream. */
export const DLQ_SUFFIX = dlqStream('');

/** Logical names of the streams that exist in Redis under the namespace (dead-letter streams left out). */
export async function existingStreams(redis: Redis, namespace: string): Promise<string[]> {
  const prefix = `${namespace}.`;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix}*`,
      'COUNT',
      1000,
      'TYPE',
      'stream',
    );
    cursor = next;
    for (const key of keys) if (!key.endsWith(DLQ_SUFFIX)) found.add(key.slice(prefix.length));
  } while (cursor !== '0');
  return [...found].sort();
}

/** Catalogue streams first, then any other stream found in Redis. */
export async function knownStreams(redis: Redis, namespace: string): Promise<string[]> {
  const catalogue: string[] = STREAM_CATALOGUE.map((s) => s.name);
  return [
    ...catalogue,
    ...(await existingStreams(redis, namespace)).filter((s) => !catalogue.includes(s)),
  ];
}

/**
 * The logical stream a user means: `md.bars`, or its physical name `mdp.md.bars`. Anything else is an
 * error that lists the streams there are.
 */
export async function resolveStream(
  redis: Redis,
  namespace: string,
  input: string,
): Promise<string> {
  const known = await knownStreams(redis, namespace);
  const logical = input.startsWith(`${namespace}.`) ? input.slice(namespace.length + 1) : input;
  if (known.includes(logical)) return logical;
  throw new CliError(
    `unknown stream "${input}" in namespace "${namespace}"; known streams: ${known.join(', ')}`,
  );
}
