import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  connectBus,
  createLogger,
  listenWithGracefulShutdown,
  nestLogger,
  ServiceBootstrapOptions,
} from '@mdp/service-kit';
import { loadStoreEnv, StoreEnv } from './config/store-config';
import { StoreAppModule, STORE_SERVICE } from './app/store-app.module';
import { StoreLifecycle } from './app/store-lifecycle';
import { StoreWriter, WriteReport } from './store-writer';
import type { SinkKind } from './sinks/tables';
import type { SqlClient } from '@mdp/sql';
import { WRITE_COORDINATOR } from './app/tokens';
import type { WriteCoordinator } from './coordinator/write-coordinator';
import type { StoreItem } from './sinks/store-sink';
import { FeedbackBus } from './feedback/feedback-bus';

export interface StoreBootstrapOptions extends ServiceBootstrapOptions {
  /** Overrides DATABASE_URL. */
  databaseUrl?: string;
  /** An open SQL client to use instead of connecting (not closed on shutdown). */
  sqlClient?: SqlClient;
}

export interface StoreHandle {
  app: INestApplication;
  env: StoreEnv;
  url: string;
  registry: Registry;
  coordinator: WriteCoordinator<StoreItem>;
  /** Resolves true once migrations ran and the workers and stream ingest are running. */
  started: Promise<boolean>;
  /** The in-process feedback bus: subscribe here to get backpressure events without Pulse. */
  feedback: FeedbackBus;
  /** In-process write through the coordinator; resolves when every row is settled. */
  write(kind: SinkKind, rows: readonly unknown[]): Promise<WriteReport>;
  close(): Promise<void>;
}

/** Builds and starts the store service. `main.ts` calls it with defaults; a launcher passes overrides. */
export async function bootstrap(options: StoreBootstrapOptions = {}): Promise<StoreHandle> {
  const env = loadStoreEnv(options.env ?? process.env);
  const logger = options.logger ?? createLogger(STORE_SERVICE, env.LOG_LEVEL, env.LOG_FORMAT);
  const registry = options.registry ?? new Registry();
  if (!options.registry) collectDefaultMetrics({ register: registry });
  const bus = await connectBus(env, { registry, logger, bus: options.bus });
  const app = await NestFactory.create(
    StoreAppModule.forRoot({
      env,
      logger,
      bus,
      registry,
      databaseUrl: options.databaseUrl,
      sqlClient: options.sqlClient,
    }),
    { logger: nestLogger(logger), abortOnError: false },
  );
  const port = options.port ?? env.PORT;
  if (options.handleSignals === false) {
    await app.listen(port);
    logger.info({ port }, 'listening');
  } else {
    await listenWithGracefulShutdown(app, port, logger);
  }
  const address = app.getHttpServer().address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const writer = app.get(StoreWriter);
  return {
    app,
    env,
    url: `http://127.0.0.1:${actualPort}`,
    registry,
    coordinator: app.get(WRITE_COORDINATOR),
    started: app.get(StoreLifecycle).started,
    feedback: app.get(FeedbackBus),
    write: (kind, rows) => writer.write(kind, rows),
    close: () => app.close(),
  };
}
