/**
 * One way to start a service: validate the environment, make the logger and the metrics registry,
 * connect the bus, build the Nest application around the shared modules (health, metrics, bus,
 * heartbeat, config and logger tokens) and listen. Every service's `bootstrap()` is this plus its own
 * modules, so they all answer the same options with the same handle.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  DynamicModule,
  Global,
  INestApplication,
  Module,
  ModuleMetadata,
  NestApplicationOptions,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServiceName } from '@mdp/contracts';
import type { EventBus, PulseBus } from '@mdp/pulse';
import { collectDefaultMetrics, Metric, Registry } from 'prom-client';
import { connectBus, type BusConnection, type BusEnv } from './bus';
import { BusModule } from './bus.module';
import { listenWithGracefulShutdown, nestLogger, type ServiceBootstrapOptions } from './bootstrap';
import type { SharedEnv } from './config';
import { HealthModule } from './health.module';
import { HeartbeatModule } from './heartbeat';
import { createLogger, type Logger } from './logger';
import { MetricsModule } from './metrics.module';

/** Injection token for the service's validated environment (its own env type). */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
/** Injection token for the service's pino logger. */
export const SERVICE_LOGGER = Symbol('SERVICE_LOGGER');

/** What a service's own modules are built from. */
export interface ServiceContext<E extends ServiceEnv> {
  service: ServiceName;
  env: E;
  logger: Logger;
  registry: Registry;
  connection: BusConnection;
  version: string;
}

export type ServiceEnv = BusEnv &
  Pick<SharedEnv, 'HEARTBEAT_INTERVAL_MS' | 'LOG_LEVEL' | 'LOG_FORMAT'> & { PORT: number };

export interface ServiceDefinition<E extends ServiceEnv> {
  service: ServiceName;
  /** The package directory (holding package.json): its `version` is the service's version. */
  packageDir: string;
  /** Validates the environment; throws ConfigError before anything starts. */
  loadEnv(raw: Record<string, string | undefined>): E;
  /** The service's own modules (the shared ones are added around them). */
  modules(ctx: ServiceContext<E>): NonNullable<ModuleMetadata['imports']>;
  nestOptions?: Pick<NestApplicationOptions, 'bodyParser'>;
}

/** What every service's `bootstrap()` returns. */
export interface ServiceHandle<E extends ServiceEnv = ServiceEnv> {
  app: INestApplication;
  env: E;
  /** The port actually bound. */
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  registry: Registry;
  connection: BusConnection;
  logger: Logger;
  /** Stops the service (Nest shutdown hooks: consumers stop, queues drain) and, when it owns it, the bus. */
  close(): Promise<void>;
}

/** The config and logger tokens plus health, metrics, bus and heartbeat: what every service imports. */
@Global()
@Module({})
export class ServiceModule {
  static forContext<E extends ServiceEnv>(ctx: ServiceContext<E>): DynamicModule {
    return {
      module: ServiceModule,
      imports: [
        HealthModule.forRoot({ service: ctx.service, version: ctx.version }),
        MetricsModule.forRoot({ registry: ctx.registry }),
        BusModule.forConnection(ctx.connection),
        HeartbeatModule.forRoot({
          intervalMs: ctx.env.HEARTBEAT_INTERVAL_MS,
          onError: (err) => ctx.logger.debug({ err: err.message }, 'heartbeat not published'),
        }),
      ],
      providers: [
        { provide: SERVICE_CONFIG, useValue: ctx.env },
        { provide: SERVICE_LOGGER, useValue: ctx.logger },
      ],
      exports: [SERVICE_CONFIG, SERVICE_LOGGER],
    };
  }
}

/** Builds the Nest application of a service (environment checked, bus connected) without listening. */
export async function createServiceApp<E extends ServiceEnv>(
  def: ServiceDefinition<E>,
  options: ServiceBootstrapOptions = {},
): Promise<{ app: INestApplication; ctx: ServiceContext<E>; port: number }> {
  const env = def.loadEnv(options.env ?? process.env);
  const logger = options.logger ?? createLogger(def.service, env.LOG_LEVEL, env.LOG_FORMAT);
  const registry = serviceRegistry(options.registry, options.bus);
  const connection = await connectBus(env, { registry, logger, bus: options.bus });
  const ctx: ServiceContext<E> = {
    service: def.service,
    env,
    logger,
    registry,
    connection,
    version: packageVersion(def.packageDir),
  };
  try {
    @Module({})
    class RootModule {}
    const root: DynamicModule = {
      module: RootModule,
      imports: [ServiceModule.forContext(ctx), ...def.modules(ctx)],
    };
    const app = await NestFactory.create(root, {
      logger: nestLogger(logger),
      abortOnError: false,
      ...def.nestOptions,
    });
    return { app, ctx, port: options.port ?? env.PORT };
  } catch (err) {
    if (connection.owned) await connection.bus.close().catch(() => undefined);
    throw err;
  }
}

/** Starts a service and listens on `port` (0: a free one); see `ServiceBootstrapOptions`. */
export async function bootstrapService<E extends ServiceEnv>(
  def: ServiceDefinition<E>,
  options: ServiceBootstrapOptions = {},
): Promise<ServiceHandle<E>> {
  const { app, ctx, port } = await createServiceApp(def, options);
  const handleSignals = options.handleSignals ?? true;
  try {
    if (handleSignals) await listenWithGracefulShutdown(app, port, ctx.logger);
    else await app.listen(port);
  } catch (err) {
    // e.g. the port is taken: release the bus and timers instead of leaving a half-started service.
    await app.close().catch(() => undefined);
    throw err;
  }
  const bound = (app.getHttpServer().address() as AddressInfo).port;
  if (!handleSignals) ctx.logger.info({ port: bound }, 'listening');
  return {
    app,
    env: ctx.env,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    registry: ctx.registry,
    connection: ctx.connection,
    logger: ctx.logger,
    close: () => app.close(),
  };
}

/**
 * The one metrics policy: the given registry, or a fresh one with Node's default metrics. A bus the
 * service did not create (one in-memory bus shared by several services in one process) records its
 * pulse_* series in a registry of its own; those are served from this registry too, so every
 * service's /metrics shows the consumer figures in every mode.
 */
export function serviceRegistry(given?: Registry, sharedBus?: EventBus): Registry {
  let registry = given;
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  const busRegistry = (sharedBus as Partial<PulseBus> | undefined)?.metrics?.registry;
  if (busRegistry && busRegistry !== registry) {
    for (const metric of busRegistry.getMetricsAsArray())
      if (!registry.getSingleMetric(metric.name))
        registry.registerMetric(metric as unknown as Metric);
  }
  return registry;
}

/** The `version` of the package at `dir`, read at run time so src (tests), dist and a deployed image agree. */
export function packageVersion(dir: string): string {
  try {
    return (
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string })
        .version ?? '0.0.0'
    );
  } catch {
    return '0.0.0';
  }
}
