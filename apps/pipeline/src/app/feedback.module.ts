import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { EventBus } from '@mdp/pulse';
import { EVENT_BUS, HealthRegistry } from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
import { FeedbackConsumer } from '../feedback/feedback-consumer';
import { FeedbackHandler } from '../feedback/feedback-handler';
import { makePolicy } from '../feedback/feedback-policy';
import { PipelineMetrics } from '../metrics/pipeline-metrics';
import { RateCoordinator } from '../rate/rate-coordinator';
import { RateCoordinatorAdapter } from '../rate/rate-coordinator-adapter';
import { LOGGER, PIPELINE_CONFIG } from './tokens';

@Injectable()
export class FeedbackLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    readonly consumer: FeedbackConsumer,
    private readonly coordinator: RateCoordinator,
    @Inject(PIPELINE_CONFIG) private readonly config: PipelineConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(HealthRegistry) health: HealthRegistry,
  ) {
    health.register('feedback_consumer', () => ({
      state: this.consumer.running ? 'healthy' : 'unhealthy',
      details: { running: String(this.consumer.running) },
    }));
  }

  onApplicationBootstrap(): void {
    const provider = this.config.PIPELINE_FB_PROVIDER;
    if (!this.coordinator.isRegistered(provider)) {
      this.logger.warn(
        { provider, running: this.coordinator.providers() },
        'PIPELINE_FB_PROVIDER names no running provider: feedback is recorded for it but throttles nothing',
      );
    }
    this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }
}

/** Store feedback -> RateAdjustment -> RateController (the coordinator, through its adapter). */
@Module({
  providers: [
    {
      provide: FeedbackHandler,
      useFactory: (config: PipelineConfig, coordinator: RateCoordinator) => {
        const policy = makePolicy({
          ok: config.PIPELINE_FB_SCALE_OK,
          soft: config.PIPELINE_FB_SCALE_SOFT,
          hard: config.PIPELINE_FB_SCALE_HARD,
        });
        return new FeedbackHandler(
          new RateCoordinatorAdapter(coordinator),
          config.PIPELINE_FB_PROVIDER,
          policy,
        );
      },
      inject: [PIPELINE_CONFIG, RateCoordinator],
    },
    {
      provide: FeedbackConsumer,
      useFactory: (
        bus: EventBus,
        handler: FeedbackHandler,
        config: PipelineConfig,
        logger: Logger,
        metrics: PipelineMetrics,
      ) =>
        new FeedbackConsumer(bus, handler, {
          consumer: config.PIPELINE_CONSUMER_NAME,
          maxDeliveries: config.PIPELINE_FB_MAX_DELIVERIES,
          idempotency: config.PIPELINE_IDEMPOTENCY,
          wire: config.PULSE_WIRE,
          logger,
          metrics,
        }),
      inject: [EVENT_BUS, FeedbackHandler, PIPELINE_CONFIG, LOGGER, PipelineMetrics],
    },
    FeedbackLifecycle,
  ],
  exports: [FeedbackConsumer, FeedbackHandler],
})
export class FeedbackModule {}
