import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Registry } from 'prom-client';
import {
  BusConnection,
  BusModule,
  HealthModule,
  HeartbeatModule,
  MetricsModule,
} from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import type { PulseBus } from '@mdp/pulse';
import type { PipelineConfig } from '../config';
import { PROVIDER_LEASES, ProviderLeases } from '../leader/provider-leases';
import type { Clock } from '../rate/clock';
import { ControlModule } from './control.module';
import { FeedbackModule } from './feedback.module';
import { IngestModule } from './ingest.module';
import { RateModule } from './rate.module';
import { StatusModule } from './status.module';
import { CLOCK, LOGGER, PIPELINE_CONFIG } from './tokens';

export interface AppContext {
  config: PipelineConfig;
  logger: Logger;
  registry: Registry;
  connection: BusConnection;
  clock: Clock;
  version: string;
}

@Global()
@Module({})
class ContextModule {
  static forContext(ctx: AppContext): DynamicModule {
    return {
      module: ContextModule,
      providers: [
        { provide: PIPELINE_CONFIG, useValue: ctx.config },
        { provide: LOGGER, useValue: ctx.logger },
        { provide: CLOCK, useValue: ctx.clock },
        { provide: PROVIDER_LEASES, useValue: leasesFor(ctx) },
      ],
      exports: [PIPELINE_CONFIG, LOGGER, CLOCK, PROVIDER_LEASES],
    };
  }
}

/** Provider leader leases when several instances may run (PIPELINE_PROVIDER_LEASE_MS > 0). */
function leasesFor(ctx: AppContext): ProviderLeases | null {
  const bus = ctx.connection.bus;
  if (ctx.config.PIPELINE_PROVIDER_LEASE_MS <= 0 || !('holdLease' in bus)) return null;
  return new ProviderLeases(
    bus as PulseBus,
    ctx.config.PIPELINE_CONSUMER_NAME,
    ctx.config.PIPELINE_PROVIDER_LEASE_MS,
    ctx.logger,
  );
}

@Module({})
export class AppModule {
  static forContext(ctx: AppContext): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ContextModule.forContext(ctx),
        HealthModule.forRoot({ service: 'pipeline', version: ctx.version }),
        MetricsModule.forRoot({ registry: ctx.registry }),
        BusModule.forConnection(ctx.connection),
        HeartbeatModule.forRoot({
          intervalMs: ctx.config.HEARTBEAT_INTERVAL_MS,
          onError: (err) => ctx.logger.debug({ err: err.message }, 'heartbeat not published'),
        }),
        RateModule,
        IngestModule,
        FeedbackModule,
        ...(ctx.config.PIPELINE_CONTROL_ENABLED ? [ControlModule] : []),
        StatusModule,
      ],
    };
  }
}
