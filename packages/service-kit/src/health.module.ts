import { Controller, DynamicModule, Get, Global, Module, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HealthRegistry } from './health';

/** GET /health: always 200 with the HealthStatus. GET /ready: 200 when ready, else 503, same body. */
@Controller()
export class HealthController {
  constructor(private readonly health: HealthRegistry) {}

  @Get('health')
  async health_(): Promise<object> {
    const { ready: _ready, ...status } = await this.health.status();
    return status;
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<object> {
    const { ready, ...status } = await this.health.status();
    res.status(ready ? 200 : 503);
    return status;
  }
}

export interface HealthModuleOptions {
  service: string;
  version: string;
  checkTimeoutMs?: number;
}

/** Services inject `HealthRegistry` and register their components (database, redis, coordinator...). */
@Global()
@Module({})
export class HealthModule {
  static forRoot(options: HealthModuleOptions): DynamicModule {
    return {
      module: HealthModule,
      controllers: [HealthController],
      providers: [
        {
          provide: HealthRegistry,
          useValue: new HealthRegistry(options.service, options.version, options.checkTimeoutMs),
        },
      ],
      exports: [HealthRegistry],
    };
  }
}
