import { Controller, DynamicModule, Get, Global, Header, Module, Res } from '@nestjs/common';
import type { Response } from 'express';
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
  async metrics(@Res({ passthrough: true }) res: Response): Promise<string> {
    // Prometheus 3 refuses scrapes without its text-format content type.
    res.type(this.registry.contentType);
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
    if (!options.registry && options.defaultMetrics !== false)
      collectDefaultMetrics({ register: registry });
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: Registry, useValue: registry }],
      exports: [Registry],
    };
  }
}
