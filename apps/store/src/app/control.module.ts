import { Module } from '@nestjs/common';
import os from 'os';
import type { PulseBus } from '@mdp/pulse';
import { EVENT_BUS, Logger } from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import { StoreControl } from '../control/store-control';
import { StreamIngest } from '../ingest/stream-ingest';
import { IngestModule } from './ingest.module';
import { SERVICE_CONFIG, SERVICE_LOGGER, subscriberLifecycle } from '@mdp/service-kit';

/** Orchestrator control actions for the store (pause / resume ingest, replay_dlq), answered with audit entries. */
@Module({
  imports: [IngestModule],
  providers: [
    {
      provide: StoreControl,
      inject: [EVENT_BUS, StreamIngest, SERVICE_CONFIG, SERVICE_LOGGER],
      useFactory: (bus: PulseBus, ingest: StreamIngest, env: StoreEnv, logger: Logger) =>
        new StoreControl(bus, ingest, {
          consumer: env.MDS_CONSUMER_NAME ?? `store-${os.hostname()}`,
          logger,
        }),
    },
    subscriberLifecycle(StoreControl),
  ],
  exports: [StoreControl],
})
export class StoreControlModule {}
