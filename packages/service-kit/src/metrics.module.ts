import { Controller, DynamicModule, Get, Global, Header, Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One prom-client Registry per service instance (not the global default), so several services can
 * share a process in embedded mode without metric-name collisions. Inject it as `Registry`.
 */
@Controller()
export class MetricsController {
  constructor(private readonly registry: Registry) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsModuleOptions {
  /** Use an existing registry (tests, embedded mode); default: a new one with Node default metrics. */
  registry?: Registry;
  defaultMetrics?: boolean;
}

@Global()
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsModuleOptions = {}): DynamicModule {
    const registry = options.registry ?? new Registry();
    if (!options.registry && options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: Registry, useValue: registry }],
      exports: [Registry],
    };
  }
}

/** Content type prom-client serves; the controller sets it per response. */
export const METRICS_CONTENT_TYPE = new Registry().contentType;
