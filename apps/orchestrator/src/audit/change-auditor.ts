import type {
  BackpressureLevel,
  EventEnvelope,
  FeedbackEvent,
  RateAdjustment,
} from '@mdp/contracts';
import type { Logger } from '@mdp/service-kit';
import type { ObserverListener } from '../observer/pulse-observer.service';
import type { AuditRow } from './audit-row';
import type { AuditTrail } from './audit-trail';
import { ChangeCoalescer, CoalescedChange } from './change-coalescer';

/**
 * Audits backpressure level changes per store coordinator and rate scale changes per provider, as seen
 * on the telemetry streams, coalesced: at most one row per key per window (ORCH_AUDIT_COALESCE_MS),
 * carrying the number of changes and the last value. Rows are keyed by key and window, so a
 * redelivered event never adds a row.
 */
export class ChangeAuditor implements ObserverListener {
  readonly levels: ChangeCoalescer<BackpressureLevel>;
  readonly scales: ChangeCoalescer<number>;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly trail: AuditTrail,
    readonly windowMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.levels = new ChangeCoalescer<BackpressureLevel>(windowMs, 'ok');
    this.scales = new ChangeCoalescer<number>(windowMs, 1);
  }

  feedback(event: FeedbackEvent, envelope: EventEnvelope): void {
    this.levels.add({
      key: event.coordinator_id,
      value: event.level,
      eventId: envelope.id,
      ts: event.ts,
      context: {
        queue_size: String(event.queue_size),
        capacity: String(event.capacity),
        source: event.source,
      },
    });
  }

  rateAdjustment(adjustment: RateAdjustment, envelope: EventEnvelope): void {
    this.scales.add({
      key: adjustment.provider,
      value: adjustment.scale,
      eventId: envelope.id,
      ts: adjustment.ts,
      context: { reason: adjustment.reason },
    });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.flush(),
      Math.max(50, Math.min(1000, this.windowMs / 4)),
    );
    this.timer.unref();
  }

  /** Stops the timer and writes every open window, closed or not. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }

  /** Writes the closed windows (all with `all`); a window that cannot be written is kept for the next try. */
  flush(all = false): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(all));
    return this.flushing;
  }

  private async write(all: boolean): Promise<void> {
    const nowMs = this.now();
    await this.writeEach(this.levels, this.levels.take(nowMs, all), levelRow);
    await this.writeEach(this.scales, this.scales.take(nowMs, all), scaleRow);
  }

  private async writeEach<V>(
    coalescer: ChangeCoalescer<V>,
    windows: CoalescedChange<V>[],
    toRow: (w: CoalescedChange<V>) => AuditRow,
  ): Promise<void> {
    for (let i = 0; i < windows.length; i++) {
      try {
        await this.trail.record(toRow(windows[i]));
      } catch (err) {
        this.logger.error(
          { err: (err as Error).message, pending: windows.length - i },
          'coalesced audit rows not written; retrying',
        );
        coalescer.retain(windows.slice(i));
        return;
      }
    }
  }
}

function changes(w: CoalescedChange<unknown>): string {
  return w.count > 1 ? ` (${w.count} changes in ${w.windowMs / 1000} s)` : '';
}

function levelRow(w: CoalescedChange<BackpressureLevel>): AuditRow {
  return {
    source_id: `backpressure:${w.key}:${w.windowStart}`,
    kind: 'backpressure',
    ts: w.lastTs,
    actor: w.context.source || 'store',
    role: 'store',
    action: 'backpressure.level',
    target: `coordinator:${w.key}`,
    correlation_id: null,
    status: 'ok',
    outcome: null,
    detail: `level ${w.from ?? '?'} -> ${w.to}${changes(w)}`,
    attributes: {
      ...w.context,
      count: String(w.count),
      from: String(w.from),
      to: w.to,
      window_ms: String(w.windowMs),
    },
  };
}

function scaleRow(w: CoalescedChange<number>): AuditRow {
  return {
    source_id: `rate:${w.key}:${w.windowStart}`,
    kind: 'rate',
    ts: w.lastTs,
    actor: 'pipeline',
    role: 'pipeline',
    action: 'rate.scale',
    target: `provider:${w.key}`,
    correlation_id: null,
    status: 'ok',
    outcome: null,
    detail: `scale ${w.from ?? '?'} -> ${w.to}${w.context.reason ? ` (${w.context.reason})` : ''}${changes(w)}`,
    attributes: {
      ...w.context,
      count: String(w.count),
      from: String(w.from),
      to: String(w.to),
      window_ms: String(w.windowMs),
    },
  };
}
