import { Module } from '@nestjs/common';
import type { EventBus } from '@mdp/pulse';
import { EVENT_BUS } from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
import { ControlConsumer } from '../control/control-consumer';
import { PipelineMetrics } from '../metrics/pipeline-metrics';
import { RateCoordinator } from '../rate/rate-coordinator';
import { SERVICE_CONFIG, SERVICE_LOGGER, subscriberLifecycle } from '@mdp/service-kit';

/** Orchestrator control actions (pause, resume, set_scale), acknowledged with audit entries. */
@Module({
  providers: [
    {
      provide: ControlConsumer,
      useFactory: (
        bus: EventBus,
        coordinator: RateCoordinator,
        config: PipelineConfig,
        logger: Logger,
        metrics: PipelineMetrics,
      ) =>
        new ControlConsumer(bus, coordinator, {
          consumer: config.PIPELINE_CONSUMER_NAME,
          group: config.PIPELINE_CONTROL_GROUP,
          idempotency: config.PIPELINE_IDEMPOTENCY,
          logger,
          metrics,
        }),
      inject: [EVENT_BUS, RateCoordinator, SERVICE_CONFIG, SERVICE_LOGGER, PipelineMetrics],
    },
    subscriberLifecycle(ControlConsumer),
  ],
  exports: [ControlConsumer],
})
export class ControlModule {}
