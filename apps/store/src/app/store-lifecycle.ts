import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { SERVICE_CONFIG, SERVICE_LOGGER, type Logger } from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import { sleep } from '@mdp/pulse';
import type { WriteCoordinator } from '../coordinator/write-coordinator';
import { StreamIngest } from '../ingest/stream-ingest';
import type { StoreItem } from '../sinks/store-sink';
import { CoordinatorModule } from './coordinator.module';
import { DatabaseService } from './database.module';
import { IngestModule } from './ingest.module';
import { WRITE_COORDINATOR } from './tokens';

/**
 * Orders start and stop. Start: migrations (retried in the background so /health answers meanwhile),
 * then workers, then stream reading. Stop (SIGTERM): stop reading (what is already read still reaches
 * the queue, so nothing read is left pending), drain the queue within
 * MDS_COORDINATOR_DRAIN_TIMEOUT, then close the subscriptions leaving the rest pending on the streams.
 */
@Injectable()
export class StoreLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly abort = new AbortController();
  /** Resolves true once migrations ran and workers + ingest are running. */
  started: Promise<boolean> = Promise.resolve(false);

  constructor(
    private readonly database: DatabaseService,
    private readonly ingest: StreamIngest,
    @Inject(WRITE_COORDINATOR) private readonly coordinator: WriteCoordinator<StoreItem>,
    @Inject(SERVICE_CONFIG) private readonly env: StoreEnv,
    @Inject(SERVICE_LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.started = this.start();
  }

  private async start(): Promise<boolean> {
    if (!(await this.database.migrate(this.abort.signal))) return false;
    this.coordinator.start();
    if (this.env.MDS_INGEST_ENABLED) this.ingest.start();
    this.log.info(
      { ...this.coordinator.health(), ingest: this.env.MDS_INGEST_ENABLED },
      'store started',
    );
    return true;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.abort.abort();
    const drainMs = this.env.MDS_COORDINATOR_DRAIN_TIMEOUT * 1000;
    // Reads on their way are handed over while the queue has room; with the queue full and the
    // database down that never comes, so the wait is bounded like the drain.
    await Promise.race([this.ingest.stopReading(), sleep(drainMs)]);
    const result = await this.coordinator.stop(drainMs);
    await this.ingest.close();
    this.log.info(
      { ...result },
      result.drained
        ? 'queue drained'
        : 'drain timed out; unwritten messages stay pending on the streams',
    );
  }
}

@Module({ imports: [CoordinatorModule, IngestModule], providers: [StoreLifecycle] })
export class StoreLifecycleModule {}
