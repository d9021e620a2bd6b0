import { DynamicModule, Module } from '@nestjs/common';
import { OBSERVER_OPTIONS, ObserverOptions, PulseObserver } from './pulse-observer.service';
import { ScaleTopologyController } from './scale-topology.controller';
import { StatusController } from './status.controller';

/** The telemetry observer, GET /status and GET /topology/scale. Needs the service-kit Health, Metrics and Bus modules. */
@Module({})
export class ObserverModule {
  static forRoot(options: ObserverOptions): DynamicModule {
    return {
      module: ObserverModule,
      // The audit, cluster and cockpit modules listen to what the observer decodes.
      global: true,
      controllers: [StatusController, ScaleTopologyController],
      providers: [{ provide: OBSERVER_OPTIONS, useValue: options }, PulseObserver],
      exports: [PulseObserver],
    };
  }
}
