import { DynamicModule, Global, Module, ModuleMetadata } from '@nestjs/common';
import type { EventBus, PulseBus } from '@mdp/pulse';
import {
  EVENT_BUS,
  SERVICE_CONFIG,
  SERVICE_LOGGER,
  type Logger,
  type ServiceContext,
} from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
import { PROVIDER_LEASES, ProviderLeases } from '../leader/provider-leases';
import type { Clock } from '../rate/clock';
import { ControlModule } from './control.module';
import { FeedbackModule } from './feedback.module';
import { IngestModule } from './ingest.module';
import { RateModule } from './rate.module';
import { StatusModule } from './status.module';
import { CLOCK } from './tokens';

@Global()
@Module({})
class ClockModule {
  static forClock(clock: Clock): DynamicModule {
    return {
      module: ClockModule,
      providers: [{ provide: CLOCK, useValue: clock }],
      exports: [CLOCK],
    };
  }
}

/** Provider leader leases when several instances may run (PIPELINE_PROVIDER_LEASE_MS > 0). */
export function leasesFor(
  bus: EventBus,
  config: PipelineConfig,
  logger: Logger,
): ProviderLeases | null {
  if (config.PIPELINE_PROVIDER_LEASE_MS <= 0 || !('holdLease' in bus)) return null;
  return new ProviderLeases(
    bus as PulseBus,
    config.PIPELINE_CONSUMER_NAME,
    config.PIPELINE_PROVIDER_LEASE_MS,
    logger,
  );
}

/** PROVIDER_LEASES (null with a single instance): the ingest and feedback modules follow it. */
@Global()
@Module({
  providers: [
    {
      provide: PROVIDER_LEASES,
      inject: [EVENT_BUS, SERVICE_CONFIG, SERVICE_LOGGER],
      useFactory: leasesFor,
    },
  ],
  exports: [PROVIDER_LEASES],
})
class ProviderLeasesModule {}

/** The pipeline's own modules; service-kit's ServiceModule provides config, logger, health, metrics, bus. */
export function pipelineModules(
  ctx: ServiceContext<PipelineConfig>,
  clock: Clock,
): NonNullable<ModuleMetadata['imports']> {
  return [
    ClockModule.forClock(clock),
    ProviderLeasesModule,
    RateModule,
    IngestModule,
    FeedbackModule,
    ...(ctx.env.PIPELINE_CONTROL_ENABLED ? [ControlModule] : []),
    StatusModule,
  ];
}
