/**
 * Event bus from the shared environment, degrading instead of crashing: with Pulse disabled or Redis
 * unreachable at start the service runs on an in-process bus and says so (log + health component).
 */
import { createEventBus, EventBus, type PulseBus } from '@mdp/pulse';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError, type SharedEnv } from './config';
import type { HealthCheckResult } from './health';

export interface BusConnection {
  bus: EventBus;
  /** What actually runs. */
  mode: 'redis' | 'inmem';
  /** What the environment asked for. */
  requested: 'redis' | 'inmem' | 'disabled';
  /** Set when `mode` differs from what was asked, with the reason. */
  degradedReason?: string;
  /** Whether this process owns the bus (and so closes it on shutdown). */
  owned: boolean;
}

export interface ConnectBusOptions {
  registry?: Registry;
  logger?: Logger;
  /** Reuse an existing bus (embedded single-process mode, tests). */
  bus?: EventBus;
  pingTimeoutMs?: number;
}

type BusEnv = Pick<SharedEnv, 'PULSE_ENABLED' | 'EVENT_BUS_BACKEND' | 'REDIS_URL' | 'MD_NAMESPACE' | 'SCHEMA_TRACK' | 'PUBLISHER_TOKEN'> &
  Partial<Pick<SharedEnv, 'REDIS_CLUSTER_NODES' | 'MD_PARTITIONS'>>;

/** The market-data streams MD_PARTITIONS splits (control, telemetry and audit streams stay whole). */
export const MARKET_DATA_STREAMS = ['md.bars', 'md.options', 'md.news', 'md.fundamentals'] as const;


export async function connectBus(env: BusEnv, opts: ConnectBusOptions = {}): Promise<BusConnection> {
  const requested = !env.PULSE_ENABLED ? 'disabled' : env.EVENT_BUS_BACKEND;
  if (opts.bus) return { bus: opts.bus, mode: opts.bus.backend, requested, owned: false };

  const partitions = Object.fromEntries(MARKET_DATA_STREAMS.map((s) => [s, env.MD_PARTITIONS ?? 1]));
  const common = { namespace: env.MD_NAMESPACE, track: env.SCHEMA_TRACK, publisherToken: env.PUBLISHER_TOKEN, registry: opts.registry, partitions };
  const inmem = (degradedReason?: string): BusConnection => ({
    bus: createEventBus({ backend: 'inmem', ...common }),
    mode: 'inmem',
    requested,
    degradedReason,
    owned: true,
  });

  if (requested === 'disabled') {
    opts.logger?.warn('Pulse disabled (PULSE_ENABLED=false): events stay inside this process (in-memory bus)');
    return inmem('PULSE_ENABLED=false');
  }
  if (requested === 'inmem') return inmem();

  const cluster = env.REDIS_CLUSTER_NODES;
  const where = cluster ? `Redis Cluster ${cluster}` : redact(env.REDIS_URL);
  const bus = createEventBus({ backend: 'redis', redisUrl: env.REDIS_URL, clusterNodes: cluster, ...common });
  try {
    await withTimeout(bus.ping(), opts.pingTimeoutMs ?? 3000, `no answer from ${where}`);
  } catch (err) {
    // Drop the sockets at once: a graceful close would wait out the client's reconnect attempts.
    bus.disconnect();
    const reason = `Redis unreachable at start (${(err as Error).message}); running on the in-memory bus`;
    opts.logger?.error({ redis: where }, reason);
    return inmem(reason);
  }
  try {
    await checkPartitions(bus, env.MD_PARTITIONS ?? 1);
  } catch (err) {
    bus.disconnect();
    throw err;
  }
  opts.logger?.info(
    { redis: where, namespace: env.MD_NAMESPACE, track: env.SCHEMA_TRACK, mdPartitions: env.MD_PARTITIONS ?? 1 },
    'event bus connected (redis)',
  );
  return { bus, mode: 'redis', requested, owned: true };
}

/**
 * Publishers and readers of one namespace must split md.* the same way, or a key's events would go
 * to a partition some reader never reads. The first service records its MD_PARTITIONS in Redis
 * (`<namespace>.settings.md_partitions`); a service with another value stops here (ConfigError).
 */
export async function checkPartitions(bus: PulseBus, partitions: number): Promise<void> {
  const recorded = await bus.claimSetting('md_partitions', String(partitions));
  if (recorded !== String(partitions))
    throw new ConfigError([
      `MD_PARTITIONS: ${partitions} here, but the services of namespace "${bus.namespace}" use ${recorded} ` +
        `(recorded in Redis as ${bus.namespace}.settings.md_partitions). Start every service with the same ` +
        `MD_PARTITIONS; to change it, stop all of them, drain the md.* streams and delete that key.`,
    ]);
}

/** Health component for the bus: degraded while running on a fallback, unhealthy if Redis stops answering. */
export async function busHealth(conn: BusConnection): Promise<HealthCheckResult> {
  const details: Record<string, string> = { backend: conn.mode, requested: conn.requested, namespace: conn.bus.namespace, track: conn.bus.track };
  if (conn.degradedReason) return { state: 'degraded', details: { ...details, reason: conn.degradedReason } };
  try {
    await withTimeout(conn.bus.ping(), 1000, 'ping timed out');
    return { state: 'healthy', details };
  } catch (err) {
    return { state: 'unhealthy', details: { ...details, error: (err as Error).message } };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

/** Hides a password in a Redis URL for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
