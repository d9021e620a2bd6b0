import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { STREAMS, streamSchemaId } from '@mdp/contracts';
import { envelopeFor, type EventBus } from '@mdp/pulse';
import {
  EVENT_BUS,
  HealthRegistry,
  SERVICE_CONFIG,
  SERVICE_LOGGER,
  type Logger,
} from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
import { FeedbackConsumer } from '../feedback/feedback-consumer';
import { FeedbackHandler } from '../feedback/feedback-handler';
import { makePolicy } from '../feedback/feedback-policy';
import { FlowDriver } from '../flow/flow-driver';
import { AdaptiveController } from '../flow/adaptive-controller';
import type { FlowController } from '../flow/flow-controller';
import { StepController } from '../flow/step-controller';
import { PipelineMetrics } from '../metrics/pipeline-metrics';
import { RateCoordinator } from '../rate/rate-coordinator';
import { RateCoordinatorAdapter } from '../rate/rate-coordinator-adapter';
import type { Clock } from '../rate/clock';
import { PROVIDER_LEASES, type ProviderLeases } from '../leader/provider-leases';
import { CLOCK } from './tokens';

@Injectable()
export class FeedbackLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    readonly consumer: FeedbackConsumer,
    private readonly flow: FlowDriver,
    private readonly coordinator: RateCoordinator,
    @Inject(SERVICE_CONFIG) private readonly config: PipelineConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    @Inject(HealthRegistry) health: HealthRegistry,
    @Inject(PROVIDER_LEASES) private readonly leases: ProviderLeases | null,
  ) {
    health.register('feedback_consumer', () => ({
      state: this.consumer.running || this.standby ? 'healthy' : 'unhealthy',
      details: { running: String(this.consumer.running), standby: String(this.standby) },
    }));
  }

  private started = false;

  /**
   * With several instances only the ones leading a provider read feedback (group `pipeline` shares
   * the events among its readers, so a standby would take events its leader needs, and announce rate
   * adjustments for providers it does not run). An instance without providers reads it as before.
   */
  private get standby(): boolean {
    return !!this.leases && this.coordinator.providers().length > 0 && this.leases.leading === 0;
  }

  private follow(): void {
    if (!this.started) return;
    if (this.standby) void this.consumer.stop();
    else this.consumer.start();
  }

  onApplicationBootstrap(): void {
    const provider = this.config.PIPELINE_FB_PROVIDER;
    if (!this.coordinator.isRegistered(provider)) {
      this.logger.warn(
        { provider, running: this.coordinator.providers() },
        'PIPELINE_FB_PROVIDER names no running provider: feedback is recorded for it but throttles nothing',
      );
    }
    this.started = true;
    this.leases?.onLeadChange(() => this.follow());
    this.follow();
    this.flow.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.started = false;
    this.flow.stop();
    await this.consumer.stop();
  }
}

function flowController(config: PipelineConfig): FlowController {
  const freshness = {
    defaultTtlMs: config.PIPELINE_FB_TTL_MS,
    decayMs: config.PIPELINE_FB_DECAY_MS,
  };
  if (config.PIPELINE_FLOW_POLICY === 'adaptive') {
    return new AdaptiveController({
      freshness,
      targetUtilization: config.PIPELINE_FLOW_TARGET,
      horizonMs: config.PIPELINE_FLOW_HORIZON_MS,
      increasePerSec: config.PIPELINE_FLOW_INCREASE,
      decrease: config.PIPELINE_FLOW_DECREASE,
    });
  }
  return new StepController({
    policy: policyOf(config),
    minDwellMs: config.PIPELINE_FB_MIN_DWELL_MS,
    freshness,
  });
}

function policyOf(config: PipelineConfig) {
  return makePolicy({
    ok: config.PIPELINE_FB_SCALE_OK,
    soft: config.PIPELINE_FB_SCALE_SOFT,
    hard: config.PIPELINE_FB_SCALE_HARD,
  });
}

/** Store feedback -> RateAdjustment -> RateController (the coordinator, through its adapter). */
@Module({
  providers: [
    {
      provide: FlowDriver,
      useFactory: (
        config: PipelineConfig,
        coordinator: RateCoordinator,
        clock: Clock,
        bus: EventBus,
        metrics: PipelineMetrics,
        logger: Logger,
      ) => {
        const provider = config.PIPELINE_FB_PROVIDER;
        const weights = { [provider]: 1, ...config.PIPELINE_FLOW_WEIGHTS };
        return new FlowDriver({
          controller: flowController(config),
          rate: new RateCoordinatorAdapter(coordinator),
          providers: () =>
            Object.entries(weights).map(([name, weight]) => ({
              provider: name,
              rate: coordinator.snapshot(name).rate,
              weight,
            })),
          primary: provider,
          clock,
          // Changes made by time alone (dwell over, feedback gone stale) are counted and announced too.
          onTimed: (adjustment) => {
            metrics.rateAdjustments.inc({
              provider: adjustment.provider,
              reason: adjustment.reason,
            });
            logger.info({ ...adjustment }, 'rate adjusted by the flow controller');
            const envelope = envelopeFor(streamSchemaId(STREAMS.rateAdjustment), adjustment, {
              track: bus.track,
              key: adjustment.provider,
            });
            bus
              .publish(STREAMS.rateAdjustment, envelope, { wire: config.PULSE_WIRE })
              .catch((err) =>
                logger.warn({ err: String(err) }, 'could not announce a rate adjustment'),
              );
          },
        });
      },
      inject: [SERVICE_CONFIG, RateCoordinator, CLOCK, EVENT_BUS, PipelineMetrics, SERVICE_LOGGER],
    },
    {
      provide: FeedbackHandler,
      useFactory: (config: PipelineConfig, coordinator: RateCoordinator, flow: FlowDriver) =>
        new FeedbackHandler(
          new RateCoordinatorAdapter(coordinator),
          config.PIPELINE_FB_PROVIDER,
          policyOf(config),
          flow,
        ),
      inject: [SERVICE_CONFIG, RateCoordinator, FlowDriver],
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
      inject: [EVENT_BUS, FeedbackHandler, SERVICE_CONFIG, SERVICE_LOGGER, PipelineMetrics],
    },
    FeedbackLifecycle,
  ],
  exports: [FeedbackConsumer, FeedbackHandler, FlowDriver],
})
export class FeedbackModule {}
