import { Counter, Gauge, Registry } from 'prom-client';
import type { RateCoordinator } from '../rate/rate-coordinator';

const PRESSURE_VALUE = { ok: 0, soft: 1, hard: 2 } as const;

/**
 * The pipeline's own metrics, on the service's registry. The pulse_* family (`pulse_consume_total`,
 * `pulse_lag_seconds`, ...) is recorded by the bus's consumer core on the same registry (see bootstrap).
 */
export class PipelineMetrics {
  readonly feedbackReceived: Counter<'source' | 'level'>;
  readonly rateAdjustments: Counter<'provider' | 'reason'>;
  readonly records: Counter<'provider' | 'kind'>;
  readonly invalidRecords: Counter<'provider'>;
  readonly providerErrors: Counter<'provider'>;
  readonly publishedRecords: Counter<'stream'>;
  readonly publishErrors: Counter<'stream'>;
  readonly controlActions: Counter<'action' | 'result'>;

  constructor(
    readonly registry: Registry,
    coordinator?: RateCoordinator,
  ) {
    const reg = [registry];
    this.feedbackReceived = new Counter({
      name: 'pipeline_feedback_events_received_total',
      help: 'Feedback events received from the store, by source and level',
      labelNames: ['source', 'level'],
      registers: reg,
    });
    this.rateAdjustments = new Counter({
      name: 'pipeline_rate_adjustments_total',
      help: 'Rate adjustments applied to providers, by reason (backpressure level)',
      labelNames: ['provider', 'reason'],
      registers: reg,
    });
    this.records = new Counter({
      name: 'pipeline_records_total',
      help: 'Records read from providers',
      labelNames: ['provider', 'kind'],
      registers: reg,
    });
    this.invalidRecords = new Counter({
      name: 'pipeline_records_invalid_total',
      help: 'Provider records rejected as invalid',
      labelNames: ['provider'],
      registers: reg,
    });
    this.providerErrors = new Counter({
      name: 'pipeline_provider_errors_total',
      help: 'Provider stream failures (each is retried with backoff)',
      labelNames: ['provider'],
      registers: reg,
    });
    this.publishedRecords = new Counter({
      name: 'pipeline_published_records_total',
      help: 'Records published to the bus',
      labelNames: ['stream'],
      registers: reg,
    });
    this.publishErrors = new Counter({
      name: 'pipeline_publish_errors_total',
      help: 'Failed batch publishes (the batch is kept and retried)',
      labelNames: ['stream'],
      registers: reg,
    });
    this.controlActions = new Counter({
      name: 'pipeline_control_actions_total',
      help: 'Control actions handled, by result',
      labelNames: ['action', 'result'],
      registers: reg,
    });

    if (coordinator) {
      const perProvider = (
        name: string,
        help: string,
        value: (s: ReturnType<RateCoordinator['snapshot']>) => number,
      ) =>
        new Gauge({
          name,
          help,
          labelNames: ['provider'],
          registers: reg,
          collect() {
            this.reset();
            for (const s of coordinator.snapshots()) this.set({ provider: s.provider }, value(s));
          },
        });
      perProvider(
        'pipeline_rate_scale',
        'Budget scale per provider (1 = configured rate)',
        (s) => s.scale,
      );
      perProvider(
        'pipeline_rate_effective_per_second',
        'Records per second a provider may currently use',
        (s) => s.effectiveRate,
      );
      perProvider(
        'pipeline_backpressure_level',
        'Last backpressure level per provider (ok=0, soft=1, hard=2)',
        (s) => PRESSURE_VALUE[s.pressure],
      );
      perProvider(
        'pipeline_provider_paused',
        'Whether an operator paused the provider (1) or not (0)',
        (s) => (s.paused ? 1 : 0),
      );
    }
  }
}
