import type { ModuleMetadata } from '@nestjs/common';
import type { ServiceContext } from '@mdp/service-kit';
import type { SqlClient } from '@mdp/sql';
import type { StoreEnv } from '../config/store-config';
import { AdminModule } from './admin.module';
import { FaultAdminModule } from './fault-admin.module';
import { CoordinatorModule } from './coordinator.module';
import { StoreControlModule } from './control.module';
import { DatabaseModule } from './database.module';
import { IngestModule } from './ingest.module';
import { StoreLifecycleModule } from './store-lifecycle';

export interface StoreModulesOptions {
  databaseUrl?: string;
  sqlClient?: SqlClient;
}

/** The store's own modules; service-kit's ServiceModule provides config, logger, health, metrics, bus. */
export function storeModules(
  ctx: ServiceContext<StoreEnv>,
  o: StoreModulesOptions,
): NonNullable<ModuleMetadata['imports']> {
  return [
    DatabaseModule.forRoot({ databaseUrl: o.databaseUrl, client: o.sqlClient }),
    CoordinatorModule,
    IngestModule,
    AdminModule,
    FaultAdminModule,
    ...(ctx.env.MDS_CONTROL_ENABLED ? [StoreControlModule] : []),
    StoreLifecycleModule,
  ];
}
