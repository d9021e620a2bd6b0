import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { StoreEnv } from '../config/store-config';
import { coordinatorMetrics } from '../coordinator/metrics';
import { DeadLetterStore } from '../dlq/dead-letter-store';
import { STORE_ENV } from './tokens';

/** The per-sink dead-letter files. */
@Module({
  providers: [
    {
      provide: DeadLetterStore,
      inject: [STORE_ENV, Registry],
      useFactory: (env: StoreEnv, registry: Registry) =>
        new DeadLetterStore(env.MDS_DLQ_DIR, coordinatorMetrics(registry).dlqRecords),
    },
  ],
  exports: [DeadLetterStore],
})
export class DlqModule {}
