/**
 * Event bus from the shared environment. `EVENT_BUS_BACKEND=redis` always runs on Redis: when Redis
 * is unreachable (at start or later) the service stays up, reports the `bus` component unhealthy and
 * is not ready (/ready 503) while the clients reconnect with backoff; the consumers create their groups
 * and work once Redis answers. Another bus would take events nobody else sees, so there is no fallback.
 * Only `inmem` (embedded single-process mode) and `PULSE_ENABLED=false` run on an in-process bus.
 */
import { createEventBus, EventBus, type PulseBus } from '@mdp/pulse';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError, type SharedEnv } from './config';
import type { HealthCheckResult, HealthRegistry } from './health';

export interface BusConnection {
  bus: EventBus;
  /** What actually runs. */
  mode: 'redis' | 'inmem';
  /** What the environment asked for. */
  requested: 'redis' | 'inmem' | 'disabled';
  /** Set when Pulse is disabled and events stay inside this process, with the reason. */
  degradedReason?: string;
  /** Whether this process owns the bus (and so closes it on shutdown). */
  owned: boolean;
  /**
   * Set when MD_PARTITIONS could only be checked after start (Redis was away) and differs from the
   * namespace's: the bus stays unhealthy and the service unready.
   */
  misconfigured?: string;
}

export interface ConnectBusOptions {
  registry?: Registry;
  logger?: Logger;
  /** Reuse an existing bus (embedded single-process mode, tests). */
  bus?: EventBus;
  pingTimeoutMs?: number;
}

/** The environment a bus connection reads (every service has it: see `ServiceEnv`). */
export type BusEnv = Pick<
  SharedEnv,
  | 'PULSE_ENABLED'
  | 'EVENT_BUS_BACKEND'
  | 'REDIS_URL'
  | 'MD_NAMESPACE'
  | 'SCHEMA_TRACK'
  | 'PUBLISHER_TOKEN'
> &
  Partial<Pick<SharedEnv, 'PULSE_MAX_ENTRY_BYTES' | 'REDIS_CLUSTER_NODES' | 'MD_PARTITIONS'>>;

/** The market-data streams MD_PARTITIONS splits (control, telemetry and audit streams stay whole). */
export const MARKET_DATA_STREAMS = ['md.bars', 'md.options', 'md.news', 'md.fundamentals'] as const;

export async function connectBus(
  env: BusEnv,
  opts: ConnectBusOptions = {},
): Promise<BusConnection> {
  const requested = !env.PULSE_ENABLED ? 'disabled' : env.EVENT_BUS_BACKEND;
  if (opts.bus) return { bus: opts.bus, mode: opts.bus.backend, requested, owned: false };

  const partitions = Object.fromEntries(
    MARKET_DATA_STREAMS.map((s) => [s, env.MD_PARTITIONS ?? 1]),
  );
  const common = {
    namespace: env.MD_NAMESPACE,
    track: env.SCHEMA_TRACK,
    publisherToken: env.PUBLISHER_TOKEN,
    registry: opts.registry,
    maxEntryBytes: env.PULSE_MAX_ENTRY_BYTES,
    partitions,
    // Pulse logs through the service's logger: an outage is in the service's log, not lost.
    logger: opts.logger,
  };
  const inmem = (degradedReason?: string): BusConnection => ({
    bus: createEventBus({ backend: 'inmem', ...common }),
    mode: 'inmem',
    requested,
    degradedReason,
    owned: true,
  });

  if (requested === 'disabled') {
    opts.logger?.warn(
      'Pulse disabled (PULSE_ENABLED=false): events stay inside this process (in-memory bus)',
    );
    return inmem('PULSE_ENABLED=false');
  }
  if (requested === 'inmem') return inmem();

  // ioredis reconnects on its own with backoff (and queues commands meanwhile); each consumer's
  // reader connection reconnects on its next read, its loop backing off up to 2 s.
  const cluster = env.REDIS_CLUSTER_NODES;
  const bus = createEventBus({
    backend: 'redis',
    redisUrl: env.REDIS_URL,
    clusterNodes: cluster,
    ...common,
  });
  const mdPartitions = env.MD_PARTITIONS ?? 1;
  const where = {
    redis: cluster ? `Redis Cluster ${cluster}` : redact(env.REDIS_URL),
    namespace: env.MD_NAMESPACE,
    track: env.SCHEMA_TRACK,
    mdPartitions,
  };
  const conn: BusConnection = { bus, mode: 'redis', requested, owned: true };
  try {
    await withTimeout(bus.ping(), opts.pingTimeoutMs ?? 3000, `no answer from ${where.redis}`);
  } catch (err) {
    opts.logger?.error(
      { ...where, err: (err as Error).message },
      'Redis unreachable at start: not ready until it answers; reconnecting with backoff',
    );
    // MD_PARTITIONS is checked once Redis answers; a mismatch then keeps the service unready.
    void checkPartitionsWhenUp(conn, mdPartitions, opts.logger);
    return conn;
  }
  try {
    await checkPartitions(bus, mdPartitions);
  } catch (err) {
    bus.disconnect();
    throw err;
  }
  opts.logger?.info(where, 'event bus connected (redis)');
  return conn;
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

/** Started without Redis: checks MD_PARTITIONS once it answers; a mismatch marks the bus unhealthy for good. */
async function checkPartitionsWhenUp(
  conn: BusConnection,
  partitions: number,
  logger?: Logger,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await checkPartitions(conn.bus as PulseBus, partitions);
      return;
    } catch (err) {
      if (err instanceof ConfigError) {
        conn.misconfigured = err.problems.join('; ');
        logger?.error(
          { problems: err.problems },
          "refusing to work: MD_PARTITIONS differs from the namespace's",
        );
        return;
      }
      if (/event bus is closed/.test((err as Error).message)) return;
      await new Promise((r) =>
        setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 5))).unref?.(),
      );
    }
  }
}

/**
 * Registers the `bus` health component. On Redis it counts for readiness: a service that cannot reach
 * its bus can neither take nor hand on events.
 */
export function registerBusHealth(health: HealthRegistry, conn: BusConnection): void {
  health.register('bus', () => busHealth(conn), { readiness: conn.mode === 'redis' });
}

/** Health of the bus: degraded while Pulse is disabled, unhealthy while Redis does not answer. */
export async function busHealth(conn: BusConnection): Promise<HealthCheckResult> {
  const details: Record<string, string> = {
    backend: conn.mode,
    requested: conn.requested,
    namespace: conn.bus.namespace,
    track: conn.bus.track,
  };
  if (conn.degradedReason)
    return { state: 'degraded', details: { ...details, reason: conn.degradedReason } };
  if (conn.misconfigured)
    return { state: 'unhealthy', details: { ...details, error: conn.misconfigured } };
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
