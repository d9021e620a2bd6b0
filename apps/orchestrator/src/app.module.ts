import { DynamicModule, Module } from '@nestjs/common';
import {
  BusConnection,
  BusModule,
  HealthModule,
  HeartbeatModule,
  MetricsModule,
} from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import type { Registry } from 'prom-client';
import { AuditModule, AuditOptions } from './audit/audit.module';
import { ClusterModule, ClusterOptions } from './cluster/cluster.module';
import { CockpitModule } from './cockpit/cockpit.module';
import { ControlModule, ControlOptions } from './control/control.module';
import { ObserverModule } from './observer/observer.module';
import type { ObserverOptions } from './observer/pulse-observer.service';

export interface AppModuleOptions {
  version: string;
  registry: Registry;
  bus: BusConnection;
  observer: ObserverOptions;
  logger: Logger;
  heartbeatMs: number;
  audit: AuditOptions;
  cluster: ClusterOptions;
  control: ControlOptions;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        HealthModule.forRoot({ service: 'orchestrator', version: options.version }),
        MetricsModule.forRoot({ registry: options.registry }),
        BusModule.forConnection(options.bus),
        HeartbeatModule.forRoot({
          intervalMs: options.heartbeatMs,
          onError: (err) => options.logger.debug({ err: err.message }, 'heartbeat not published'),
        }),
        ObserverModule.forRoot(options.observer, options.logger),
        AuditModule.forRoot(options.audit),
        ClusterModule.forRoot(options.cluster),
        ControlModule.forRoot(options.control),
        CockpitModule.forRoot({ controlEnabled: Boolean(options.control.adminToken) }),
      ],
    };
  }
}
