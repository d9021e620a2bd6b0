import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { EventBus, PulseBus } from '@mdp/pulse';
import {
  BusConnection,
  connectBus,
  createLogger,
  listenWithGracefulShutdown,
  nestLogger,
  ServiceBootstrapOptions,
} from '@mdp/service-kit';
import { collectDefaultMetrics, Metric, Registry } from 'prom-client';
import { AppModule } from './app/app.module';
import { loadConfig, PipelineConfig } from './config';
import { Clock, systemClock } from './rate/clock';

export interface BootstrapOptions extends ServiceBootstrapOptions {
  clock?: Clock;
}

export interface PipelineApp {
  app: INestApplication;
  config: PipelineConfig;
  connection: BusConnection;
  registry: Registry;
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

const VERSION = process.env.npm_package_version ?? '0.1.0';

/**
 * Starts the pipeline: validates the environment (a bad value throws ConfigError before anything
 * starts), connects the bus (degrading to in-process when Pulse is disabled or Redis is unreachable),
 * builds the Nest app and listens.
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<PipelineApp> {
  const config = loadConfig(options.env ?? process.env);
  const logger = options.logger ?? createLogger('pipeline', config.LOG_LEVEL, config.LOG_FORMAT);
  const registry = options.registry ?? defaultRegistry();
  const connection = await connectBus(config, { registry, logger, bus: options.bus });
  if (options.bus) adoptBusMetrics(options.bus, registry);
  const app = await NestFactory.create(
    AppModule.forContext({
      config,
      logger,
      registry,
      connection,
      clock: options.clock ?? systemClock,
      version: VERSION,
    }),
    { logger: nestLogger(logger), abortOnError: false },
  );
  const port = options.port ?? config.PORT;
  if (options.handleSignals === false) {
    await app.listen(port);
    logger.info({ port: portOf(app) }, 'listening');
  } else {
    await listenWithGracefulShutdown(app, port, logger);
  }
  return {
    app,
    config,
    connection,
    registry,
    url: `http://127.0.0.1:${portOf(app)}`,
    close: () => app.close(),
  };
}

function portOf(app: INestApplication): number {
  const addr = app.getHttpServer().address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/**
 * A bus we did not create records pulse_* on its own registry; serve those metrics from ours too, so
 * /metrics shows the consumer figures in the embedded (shared-bus) mode as well.
 */
function adoptBusMetrics(bus: EventBus, registry: Registry): void {
  const busRegistry = (bus as Partial<PulseBus>).metrics?.registry;
  if (!busRegistry || busRegistry === registry) return;
  for (const metric of busRegistry.getMetricsAsArray()) {
    if (!registry.getSingleMetric(metric.name))
      registry.registerMetric(metric as unknown as Metric);
  }
}

function defaultRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
