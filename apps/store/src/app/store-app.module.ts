import { DynamicModule, Module } from '@nestjs/common';
import type { Registry } from 'prom-client';
import {
  BusConnection,
  BusModule,
  HealthModule,
  HeartbeatModule,
  Logger,
  MetricsModule,
} from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import type { SqlClient } from '@mdp/sql';
import { AdminModule } from './admin.module';
import { FaultAdminModule } from './fault-admin.module';
import { StoreConfigModule } from './config.module';
import { CoordinatorModule } from './coordinator.module';
import { StoreControlModule } from './control.module';
import { DatabaseModule } from './database.module';
import { IngestModule } from './ingest.module';
import { StoreLifecycle } from './store-lifecycle';

export const STORE_SERVICE = 'store';
export const STORE_VERSION = '0.1.0';

export interface StoreAppModuleOptions {
  env: StoreEnv;
  logger: Logger;
  bus: BusConnection;
  registry: Registry;
  databaseUrl?: string;
  sqlClient?: SqlClient;
}

@Module({})
export class StoreAppModule {
  static forRoot(o: StoreAppModuleOptions): DynamicModule {
    return {
      module: StoreAppModule,
      imports: [
        StoreConfigModule.forRoot(o.env, o.logger),
        HealthModule.forRoot({ service: STORE_SERVICE, version: STORE_VERSION }),
        MetricsModule.forRoot({ registry: o.registry }),
        BusModule.forConnection(o.bus),
        HeartbeatModule.forRoot({
          intervalMs: o.env.HEARTBEAT_INTERVAL_MS,
          onError: (err) => o.logger.debug({ err: err.message }, 'heartbeat not published'),
        }),
        DatabaseModule.forRoot({ databaseUrl: o.databaseUrl, client: o.sqlClient }),
        CoordinatorModule,
        IngestModule,
        AdminModule,
        FaultAdminModule,
        ...(o.env.MDS_CONTROL_ENABLED ? [StoreControlModule] : []),
      ],
      providers: [StoreLifecycle],
    };
  }
}
