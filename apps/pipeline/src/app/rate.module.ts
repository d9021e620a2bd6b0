import { Global, Inject, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { HealthRegistry } from '@mdp/service-kit';
import { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { Clock } from '../rate/clock';
import { RateCoordinator } from '../rate/rate-coordinator';
import { CLOCK } from './tokens';

class RateHealth {
  constructor(coordinator: RateCoordinator, @Inject(HealthRegistry) health: HealthRegistry) {
    // Informational: a paused or throttled provider is a decision, not a fault, so it never fails /ready.
    health.register(
      'rate_coordinator',
      () => {
        const snaps = coordinator.snapshots();
        const details = Object.fromEntries(
          snaps.map((s) => [
            s.provider,
            `scale=${s.scale} pressure=${s.pressure}${s.paused ? ' paused' : ''}`,
          ]),
        );
        return {
          state: snaps.some((s) => s.pressure === 'hard' || s.paused) ? 'degraded' : 'healthy',
          details,
        };
      },
      { readiness: false },
    );
  }
}

/** The rate coordinator (token bucket per provider) and the pipeline's metrics over it. */
@Global()
@Module({
  providers: [
    {
      provide: RateCoordinator,
      useFactory: (clock: Clock) => new RateCoordinator(clock),
      inject: [CLOCK],
    },
    {
      provide: PipelineMetrics,
      useFactory: (registry: Registry, coordinator: RateCoordinator) =>
        new PipelineMetrics(registry, coordinator),
      inject: [Registry, RateCoordinator],
    },
    {
      provide: RateHealth,
      useFactory: (c: RateCoordinator, h: HealthRegistry) => new RateHealth(c, h),
      inject: [RateCoordinator, HealthRegistry],
    },
  ],
  exports: [RateCoordinator, PipelineMetrics],
})
export class RateModule {}
