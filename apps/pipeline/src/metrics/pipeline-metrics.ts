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
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers: reg });
    this.feedbackReceived = counter(
      'pipeline_feedback_events_received_total',
      'Feedback events received from the store, by source and level',
      ['source', 'level'],
    );
    this.rateAdjustments = counter(
      'pipeline_rate_adjustments_total',
      'Rate adjustments applied to providers, by reason (backpressure level)',
      ['provider', 'reason'],
    );
    this.records = counter('pipeline_records_total', 'Records read from providers', [
      'provider',
      'kind',
    ]);
    this.invalidRecords = counter(
      'pipeline_records_invalid_total',
      'Provider records rejected as invalid',
      ['provider'],
    );
    this.providerErrors = counter(
      'pipeline_provider_errors_total',
      'Provider stream failures (each is retried with backoff)',
      ['provider'],
    );
    this.publishedRecords = counter(
      'pipeline_published_records_total',
      'Records published to the bus',
      ['stream'],
    );
    this.publishErrors = counter(
      'pipeline_publish_errors_total',
      'Failed batch publishes (the batch is kept and retried)',
      ['stream'],
    );
    this.controlActions = counter(
      'pipeline_control_actions_total',
      'Control actions handled, by result',
      ['action', 'result'],
    );

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
