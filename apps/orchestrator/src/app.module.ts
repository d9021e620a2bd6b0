import { DynamicModule, Module } from '@nestjs/common';
import { BusConnection, BusModule, HealthModule, MetricsModule } from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import type { Registry } from 'prom-client';
import { ObserverModule } from './observer/observer.module';
import type { ObserverOptions } from './observer/pulse-observer.service';

export interface AppModuleOptions {
  version: string;
  registry: Registry;
  bus: BusConnection;
  observer: ObserverOptions;
  logger: Logger;
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
        ObserverModule.forRoot(options.observer, options.logger),
      ],
    };
  }
}
