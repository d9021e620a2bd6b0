import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackpressureLevel } from '@mdp/contracts';

const LEVEL_VALUE: Record<BackpressureLevel, number> = { ok: 0, soft: 1, hard: 2 };

/**
 * The observer's own series. Prefixed `orchestrator_` because the bus already exports `pulse_*`
 * into the same registry, and several services may share a process (embedded mode).
 */
export class ObserverMetrics {
  readonly events: Counter<'stream' | 'track' | 'outcome'>;
  readonly lag: Histogram<'stream'>;
  readonly backpressure: Gauge<'coordinator_id'>;
  readonly rateScale: Gauge<'provider'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.events = new Counter({
      name: 'orchestrator_observed_events_total',
      help: 'Telemetry events the orchestrator observer handled, by stream, schema track and outcome (ok, invalid)',
      labelNames: ['stream', 'track', 'outcome'],
      registers,
    });
    this.lag = new Histogram({
      name: 'orchestrator_observed_lag_seconds',
      help: 'Envelope ts to observer handling, in seconds',
      labelNames: ['stream'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.backpressure = new Gauge({
      name: 'orchestrator_backpressure_level',
      help: 'Latest backpressure level per store coordinator (0 ok, 1 soft, 2 hard)',
      labelNames: ['coordinator_id'],
      registers,
    });
    this.rateScale = new Gauge({
      name: 'orchestrator_rate_scale',
      help: 'Latest rate scale (0..1) the pipeline applied per provider',
      labelNames: ['provider'],
      registers,
    });
  }

  level(coordinatorId: string, level: BackpressureLevel): void {
    this.backpressure.set({ coordinator_id: coordinatorId }, LEVEL_VALUE[level]);
  }
}
