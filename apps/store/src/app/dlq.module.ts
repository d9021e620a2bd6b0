import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { StoreEnv } from '../config/store-config';
import { coordinatorMetrics } from '../coordinator/metrics';
import { DeadLetterStore } from '../dlq/dead-letter-store';
import { SERVICE_CONFIG } from '@mdp/service-kit';

/** The per-sink dead-letter files. */
@Module({
  providers: [
    {
      provide: DeadLetterStore,
      inject: [SERVICE_CONFIG, Registry],
      useFactory: (env: StoreEnv, registry: Registry) => new DeadLetterStore(env.MDS_DLQ_DIR, coordinatorMetrics(registry).dlqRecords),
    },
  ],
  exports: [DeadLetterStore],
})
export class DlqModule {}
