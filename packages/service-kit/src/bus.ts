/**
 * Event bus from the shared environment, degrading instead of crashing: with Pulse disabled or Redis
 * unreachable at start the service runs on an in-process bus and says so (log + health component).
 */
import { createEventBus, EventBus } from '@mdp/pulse';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { SharedEnv } from './config';
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

type BusEnv = Pick<SharedEnv, 'PULSE_ENABLED' | 'EVENT_BUS_BACKEND' | 'REDIS_URL' | 'MD_NAMESPACE' | 'SCHEMA_TRACK' | 'PUBLISHER_TOKEN'>;

export async function connectBus(env: BusEnv, opts: ConnectBusOptions = {}): Promise<BusConnection> {
  const requested = !env.PULSE_ENABLED ? 'disabled' : env.EVENT_BUS_BACKEND;
  if (opts.bus) return { bus: opts.bus, mode: opts.bus.backend, requested, owned: false };

  // Pulse logs through the service's logger: an outage is in the service's log, not lost.
  const common = { namespace: env.MD_NAMESPACE, track: env.SCHEMA_TRACK, publisherToken: env.PUBLISHER_TOKEN, registry: opts.registry, logger: opts.logger };
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

  const bus = createEventBus({ backend: 'redis', redisUrl: env.REDIS_URL, ...common });
  try {
    await withTimeout(bus.ping(), opts.pingTimeoutMs ?? 3000, `no answer from ${redact(env.REDIS_URL)}`);
    opts.logger?.info({ redis: redact(env.REDIS_URL), namespace: env.MD_NAMESPACE, track: env.SCHEMA_TRACK }, 'event bus connected (redis)');
    return { bus, mode: 'redis', requested, owned: true };
  } catch (err) {
    // Drop the sockets at once: a graceful close would wait out the client's reconnect attempts.
    bus.disconnect();
    const reason = `Redis unreachable at start (${(err as Error).message}); running on the in-memory bus`;
    opts.logger?.error({ redis: redact(env.REDIS_URL) }, reason);
    return inmem(reason);
  }
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
