/**
 * pulse_* metrics. Each bus registers on its own private Registry unless one is injected; with an
 * injected registry, metrics already registered under the same name (another bus in the process) are
 * reused instead of colliding.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export type ConsumeOutcome = 'success' | 'error' | 'duplicate' | 'dead_letter';
export type PublishOutcome = 'success' | 'error';

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export class PulseMetrics {
  readonly publishTotal: Counter<'stream' | 'track' | 'outcome'>;
  readonly consumeTotal: Counter<'stream' | 'track' | 'outcome'>;
  readonly lagSeconds: Gauge<'stream'>;
  readonly groupPending: Gauge<'stream' | 'group'>;
  readonly groupLag: Gauge<'stream' | 'group'>;

  constructor(readonly registry: Registry = new Registry()) {
    this.publishTotal = counter(
      registry,
      'pulse_publish_total',
      'Envelopes published, by outcome (success|error)',
      ['stream', 'track', 'outcome'],
    );
    this.consumeTotal = counter(
      registry,
      'pulse_consume_total',
      'Envelopes consumed, by outcome (success|error|duplicate|dead_letter)',
      ['stream', 'track', 'outcome'],
    );
    this.lagSeconds = gauge(
      registry,
      'pulse_lag_seconds',
      'Now minus the envelope ts of the latest consumed envelope, in seconds',
      ['stream'],
    );
    this.groupPending = gauge(
      registry,
      'pulse_group_pending',
      'Entries delivered to the consumer group and not yet acked',
      ['stream', 'group'],
    );
    this.groupLag = gauge(
      registry,
      'pulse_group_lag',
      'Entries in the stream not yet delivered to the consumer group',
      ['stream', 'group'],
    );
  }
}

/** Counts per (track, outcome) inside one batch, flushed with one `inc` per label set. */
export class OutcomeTally {
  private counts = new Map<string, Record<ConsumeOutcome, number>>();

  add(track: string, outcome: ConsumeOutcome | PublishOutcome, n = 1): void {
    let byOutcome = this.counts.get(track);
    if (!byOutcome)
      this.counts.set(track, (byOutcome = { success: 0, error: 0, duplicate: 0, dead_letter: 0 }));
    byOutcome[outcome] += n;
  }

  flush(counter: Counter<'stream' | 'track' | 'outcome'>, stream: string): void {
    if (!this.counts.size) return;
    for (const [track, byOutcome] of this.counts) {
      for (const outcome in byOutcome) {
        const n = byOutcome[outcome as ConsumeOutcome];
        if (n) counter.inc({ stream, track, outcome }, n);
      }
    }
    this.counts.clear();
  }
}
