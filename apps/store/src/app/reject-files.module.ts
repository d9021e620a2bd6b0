import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { StoreEnv } from '../config/store-config';
import { coordinatorMetrics } from '../coordinator/metrics';
import { RejectFiles } from '../rejects/reject-files';
import { SERVICE_CONFIG } from '@mdp/service-kit';

/** The per-sink dead-letter files. */
@Module({
  providers: [
    {
      provide: RejectFiles,
      inject: [SERVICE_CONFIG, Registry],
      useFactory: (env: StoreEnv, registry: Registry) =>
        new RejectFiles(env.MDS_DLQ_DIR, coordinatorMetrics(registry).dlqRecords),
    },
  ],
  exports: [RejectFiles],
})
export class RejectFilesModule {}
