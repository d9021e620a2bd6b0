import { DynamicModule, Global, Module, ModuleMetadata } from '@nestjs/common';
import type { ServiceContext } from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
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

/** The pipeline's own modules; service-kit's ServiceModule provides config, logger, health, metrics, bus. */
export function pipelineModules(
  ctx: ServiceContext<PipelineConfig>,
  clock: Clock,
): NonNullable<ModuleMetadata['imports']> {
  return [
    ClockModule.forClock(clock),
    RateModule,
    IngestModule,
    FeedbackModule,
    ...(ctx.env.PIPELINE_CONTROL_ENABLED ? [ControlModule] : []),
    StatusModule,
  ];
}
