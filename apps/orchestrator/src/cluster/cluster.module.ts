import {
  BeforeApplicationShutdown,
  Controller,
  DynamicModule,
  Get,
  Header,
  Injectable,
  Module,
  OnApplicationBootstrap,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import type { PulseBus } from '@mdp/pulse';
import {
  BUS_CONNECTION,
  BusConnection,
  HealthRegistry,
  Logger,
  SERVICE_LOGGER,
} from '@mdp/service-kit';
import { Registry } from 'prom-client';
import { AuditTrail } from '../audit/audit-trail';
import { DeadLetterAudit } from '../audit/dead-letter-audit';
import { PulseObserver } from '../observer/pulse-observer.service';
import { BusInspector, MemoryInspector, RedisInspector } from './bus-inspector';
import { ClusterView, ClusterViewOptions } from './cluster-view';

/** GET /topology and GET /health/cluster (200 when healthy or degraded, 503 when unhealthy). */
@Controller()
export class ClusterController {
  constructor(private readonly view: ClusterView) {}

  @Get('topology')
  @Header('Cache-Control', 'no-store')
  topology(@Query('cached') cached?: string) {
    return this.view.topology(cached === undefined);
  }

  @Get('health/cluster')
  @Header('Cache-Control', 'no-store')
  async health(@Res({ passthrough: true }) res: Response) {
    const status = await this.view.clusterHealth();
    res.status(status.state === 'unhealthy' ? 503 : 200);
    return status;
  }
}

@Injectable()
class ClusterLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly view: ClusterView,
    observer: PulseObserver,
  ) {
    observer.listen(view);
  }

  onApplicationBootstrap(): void {
    this.view.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.view.stop();
  }
}

export interface ClusterOptions extends ClusterViewOptions {
  redisUrl: string;
  /** Test seam: inspect through this instead of Redis / the in-memory bus. */
  inspector?: BusInspector;
}

/** Heartbeats, bus inspection (XINFO), topology, cluster health, stream gauges. Needs AuditModule. */
@Module({})
export class ClusterModule {
  static forRoot(options: ClusterOptions): DynamicModule {
    return {
      module: ClusterModule,
      global: true,
      controllers: [ClusterController],
      providers: [
        {
          provide: ClusterView,
          inject: [
            BUS_CONNECTION,
            AuditTrail,
            DeadLetterAudit,
            HealthRegistry,
            SERVICE_LOGGER,
            Registry,
          ],
          useFactory: (
            conn: BusConnection,
            trail: AuditTrail,
            dlq: DeadLetterAudit,
            health: HealthRegistry,
            logger: Logger,
            registry: Registry,
          ) => {
            const inspector =
              options.inspector ??
              (conn.mode === 'redis'
                ? new RedisInspector(options.redisUrl, conn.bus.namespace)
                : new MemoryInspector(conn.bus as PulseBus));
            return new ClusterView(inspector, trail, dlq, health, logger, registry, options);
          },
        },
        ClusterLifecycle,
      ],
      exports: [ClusterView],
    };
  }
}
