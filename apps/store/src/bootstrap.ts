import { join } from 'node:path';
import { bootstrapService, ServiceBootstrapOptions, ServiceHandle } from '@mdp/service-kit';
import type { SqlClient } from '@mdp/sql';
import { loadStoreEnv, StoreEnv } from './config/store-config';
import { storeModules } from './app/store-app.module';
import { StoreLifecycle } from './app/store-lifecycle';
import { StoreWriter, WriteReport } from './store-writer';
import type { SinkKind } from './sinks/tables';
import { WRITE_COORDINATOR } from './app/tokens';
import type { WriteCoordinator } from './coordinator/write-coordinator';
import type { StoreItem } from './sinks/store-sink';
import { FeedbackEmitter } from './feedback/feedback-emitter';

export interface StoreBootstrapOptions extends ServiceBootstrapOptions {
  /** Overrides DATABASE_URL. */
  databaseUrl?: string;
  /** An open SQL client to use instead of connecting (not closed on shutdown). */
  sqlClient?: SqlClient;
}

export interface StoreHandle extends ServiceHandle<StoreEnv> {
  coordinator: WriteCoordinator<StoreItem>;
  /** Resolves true once migrations ran and the workers and stream ingest are running. */
  started: Promise<boolean>;
  /** The in-process feedback bus: subscribe here to get backpressure events without Pulse. */
  feedback: FeedbackEmitter;
  /** In-process write through the coordinator; resolves when every row is settled. */
  write(kind: SinkKind, rows: readonly unknown[]): Promise<WriteReport>;
}

/** Builds and starts the store service. `main.ts` calls it with defaults; a launcher passes overrides. */
export async function bootstrap(options: StoreBootstrapOptions = {}): Promise<StoreHandle> {
  const handle = await bootstrapService(
    {
      service: 'store',
      packageDir: join(__dirname, '..'),
      loadEnv: loadStoreEnv,
      modules: (ctx) =>
        storeModules(ctx, { databaseUrl: options.databaseUrl, sqlClient: options.sqlClient }),
    },
    options,
  );
  const { app } = handle;
  const writer = app.get(StoreWriter);
  return {
    ...handle,
    coordinator: app.get(WRITE_COORDINATOR),
    started: app.get(StoreLifecycle).started,
    feedback: app.get(FeedbackEmitter),
    write: (kind, rows) => writer.write(kind, rows),
  };
}
