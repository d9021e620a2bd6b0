import { Module } from '@nestjs/common';
import os from 'os';
import { EVENT_BUS } from '@mdp/service-kit';
import type { EventBus } from '@mdp/pulse';
import type { StoreEnv } from '../config/store-config';
import type { WriteCoordinator } from '../coordinator/write-coordinator';
import { StreamIngest } from '../ingest/stream-ingest';
import type { StoreItem } from '../sinks/store-sink';
import { CoordinatorModule } from './coordinator.module';
import { WRITE_COORDINATOR } from './tokens';
import type { Logger } from '@mdp/service-kit';
import { SERVICE_CONFIG, SERVICE_LOGGER } from '@mdp/service-kit';

/**
 * Unique per instance (several stores may share a host): what a dead instance left unacked is
 * reclaimed by the others after MDS_INGEST_MIN_IDLE_MS, and its name leaves the group once it holds
 * nothing (MDS_CONSUMER_GRACE_MS). MDS_CONSUMER_NAME pins a name that outlives restarts instead.
 */
export function defaultConsumerName(): string {
  return `store-${os.hostname()}-${process.pid}`;
}

/** Reads `<ns>.md.*` with the `store` group into the coordinator (started once migrations ran). */
@Module({
  imports: [CoordinatorModule],
  providers: [
    {
      provide: StreamIngest,
      inject: [EVENT_BUS, WRITE_COORDINATOR, SERVICE_CONFIG, SERVICE_LOGGER],
      useFactory: (
        bus: EventBus,
        coordinator: WriteCoordinator<StoreItem>,
        env: StoreEnv,
        log: Logger,
      ) =>
        new StreamIngest(bus, coordinator, {
          consumer: env.MDS_CONSUMER_NAME ?? defaultConsumerName(),
          minIdleMs: env.MDS_INGEST_MIN_IDLE_MS,
          consumerGraceMs: env.MDS_CONSUMER_GRACE_MS,
          batchSize: env.MDS_INGEST_BATCH_SIZE,
          blockMs: env.MDS_INGEST_BLOCK_MS,
          consumersPerStream: env.MDS_INGEST_CONSUMERS,
          readAhead: env.MDS_INGEST_READ_AHEAD,
          // The coordinator queue must be what bounds reading (overflow=block): allow a full queue plus
          // the batches the workers hold plus one read in hand.
          maxInFlight:
            env.MDS_COORDINATOR_CAPACITY +
            (env.MDS_COORDINATOR_WORKERS + 1) * env.MDS_COORDINATOR_BATCH_SIZE +
            env.MDS_INGEST_BATCH_SIZE,
          log,
        }),
    },
  ],
  exports: [StreamIngest],
})
export class IngestModule {}
