import 'reflect-metadata';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { EventBus, PulseBus } from '@mdp/pulse';
import {
  connectBus,
  createLogger,
  listenWithGracefulShutdown,
  Logger,
  nestLogger,
  ServiceBootstrapOptions,
} from '@mdp/service-kit';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { AppModule } from './app.module';
import { loadOrchestratorEnv } from './config';
import type { AuditOptions } from './audit/audit.module';
import type { BusInspector } from './cluster/bus-inspector';
import type { ObserverOptions } from './observer/pulse-observer.service';
import { packageVersion } from './version';

export interface BootstrapOptions extends ServiceBootstrapOptions {
  /** Observer overrides (consumer name, streams, clock). */
  observer?: Partial<ObserverOptions>;
  /** An open SQL client for audit_log (not closed on shutdown); default from DATABASE_URL, else PGlite. */
  auditDb?: AuditOptions['client'];
  /** Test seam: how the bus is inspected for /topology. */
  inspector?: BusInspector;
}

export interface OrchestratorHandle {
  app: INestApplication;
  /** The port actually bound. */
  port: number;
  /** Stops the observer, closes HTTP and, when this service created it, the bus. */
  close(): Promise<void>;
}

/** Builds the Nest application (bus connected, observer wired) without listening. */
export async function createOrchestratorApp(
  options: BootstrapOptions = {},
): Promise<{ app: INestApplication; port: number; logger: Logger }> {
  const env = loadOrchestratorEnv(options.env ?? process.env);
  const logger = options.logger ?? createLogger('orchestrator', env.LOG_LEVEL, env.LOG_FORMAT);
  const registry = options.registry ?? defaultRegistry(options.bus);
  const bus = await connectBus(env, { registry, logger, bus: options.bus });
  const observer: ObserverOptions = {
    consumer: `orch-observer-${hostname()}`,
    ...options.observer,
  };
  try {
    const module = AppModule.forRoot({
      version: packageVersion(),
      registry,
      bus,
      observer,
      logger,
      heartbeatMs: env.HEARTBEAT_INTERVAL_MS,
      audit: {
        databaseUrl: env.DATABASE_URL,
        pgliteDir: env.ORCH_PGLITE_DIR,
        client: options.auditDb,
        coalesceMs: env.ORCH_AUDIT_COALESCE_MS,
      },
      cluster: {
        redisUrl: env.REDIS_URL,
        clusterId: env.ORCH_CLUSTER_ID ?? env.MD_NAMESPACE,
        region: env.ORCH_REGION,
        pollMs: env.ORCH_POLL_MS,
        inspector: options.inspector,
      },
      control: { adminToken: env.ORCH_ADMIN_TOKEN, timeoutMs: env.ORCH_CONTROL_TIMEOUT_MS },
    });
    // bodyParser off: POST /control reads its body itself (see ControlModule); no other route takes one.
    const app = await NestFactory.create(module, {
      logger: nestLogger(logger),
      abortOnError: false,
      bodyParser: false,
    });
    return { app, port: options.port ?? env.PORT, logger };
  } catch (err) {
    if (bus.owned) await bus.bus.close().catch(() => undefined);
    throw err;
  }
}

/** Starts the orchestrator on `PORT` (default 8080): the cockpit, control, audit, topology and health routes. */
export async function bootstrap(options: BootstrapOptions = {}): Promise<OrchestratorHandle> {
  const { app, port, logger } = await createOrchestratorApp(options);
  try {
    if (options.handleSignals ?? true) await listenWithGracefulShutdown(app, port, logger);
    else await app.listen(port);
  } catch (err) {
    // e.g. the port is taken: release the bus and timers instead of leaving a half-started service.
    await app.close().catch(() => undefined);
    throw err;
  }
  const bound = (app.getHttpServer().address() as AddressInfo).port;
  if (!(options.handleSignals ?? true)) logger.info({ port: bound }, 'listening');
  return { app, port: bound, close: () => app.close() };
}

/**
 * A fresh registry with Node's default metrics. Given a shared bus (one-process mode) that keeps its
 * pulse_* series in a registry of its own, the orchestrator, as the system's observer, exposes those
 * too; a bus it creates itself registers straight into this registry instead.
 */
function defaultRegistry(sharedBus?: EventBus): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const busRegistry = (sharedBus as Partial<PulseBus> | undefined)?.metrics?.registry;
  return busRegistry ? Registry.merge([registry, busRegistry]) : registry;
}
