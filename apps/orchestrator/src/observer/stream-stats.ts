import type {
  BackpressureLevel,
  EventEnvelope,
  FeedbackEvent,
  RateAdjustment,
} from '@mdp/contracts';

export type Outcome = 'ok' | 'invalid';

export interface LastEvent {
  id: string;
  key: string | null;
  schema_id: string;
  track: string;
  /** Envelope `ts`, epoch seconds. */
  ts: number;
  lag_ms: number;
  seen_at: number;
}

export interface StreamStatus {
  stream: string;
  physical_stream: string;
  schema_id: string;
  events: Record<Outcome, number>;
  lag_ms: { last: number | null; max: number | null };
  last_event: LastEvent | null;
  last_error: { id: string; reason: string; seen_at: number } | null;
  /** Latest backpressure per store coordinator (telemetry.feedback). */
  coordinators?: Record<
    string,
    { level: BackpressureLevel; queue_size: number; capacity: number; ts: number }
  >;
  /** Latest rate scale per provider (telemetry.rate_adjustment). */
  providers?: Record<string, { scale: number; reason: BackpressureLevel; ts: number }>;
}

/**
 * Bounded per-key memory: a producer inventing a new coordinator id per event must not grow the
 * orchestrator without limit, so the least recently updated key is dropped past `limit`.
 */
class RecentByKey<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly limit: number) {}

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit)
      this.entries.delete(this.entries.keys().next().value as string);
  }

  toJSON(): Record<string, V> {
    return Object.fromEntries(this.entries);
  }
}

/** What the observer has seen on one stream; pure bookkeeping, no I/O. */
export class StreamStats {
  private readonly events: Record<Outcome, number> = { ok: 0, invalid: 0 };
  private lastLag: number | null = null;
  private maxLag: number | null = null;
  private lastEvent: LastEvent | null = null;
  private lastError: StreamStatus['last_error'] = null;
  private readonly coordinators = new RecentByKey<
    NonNullable<StreamStatus['coordinators']>[string]
  >(256);
  private readonly providers = new RecentByKey<NonNullable<StreamStatus['providers']>[string]>(256);

  constructor(
    readonly stream: string,
    readonly physicalStream: string,
    readonly schemaId: string,
  ) {}

  recordOk(envelope: EventEnvelope, lagMs: number, nowMs: number): void {
    this.events.ok += 1;
    this.lastLag = lagMs;
    this.maxLag = this.maxLag === null ? lagMs : Math.max(this.maxLag, lagMs);
    this.lastEvent = {
      id: envelope.id,
      key: envelope.key,
      schema_id: envelope.meta.schema_id,
      track: envelope.meta.track,
      ts: envelope.ts,
      lag_ms: lagMs,
      seen_at: nowMs / 1000,
    };
  }

  recordInvalid(id: string, reason: string, nowMs: number): void {
    this.events.invalid += 1;
    this.lastError = { id, reason, seen_at: nowMs / 1000 };
  }

  recordFeedback(event: FeedbackEvent): void {
    this.coordinators.set(event.coordinator_id, {
      level: event.level,
      queue_size: event.queue_size,
      capacity: event.capacity,
      ts: event.ts,
    });
  }

  recordRateAdjustment(adjustment: RateAdjustment): void {
    this.providers.set(adjustment.provider, {
      scale: adjustment.scale,
      reason: adjustment.reason,
      ts: adjustment.ts,
    });
  }

  count(outcome: Outcome): number {
    return this.events[outcome];
  }

  status(): StreamStatus {
    const status: StreamStatus = {
      stream: this.stream,
      physical_stream: this.physicalStream,
      schema_id: this.schemaId,
      events: { ...this.events },
      lag_ms: { last: this.lastLag, max: this.maxLag },
      last_event: this.lastEvent,
      last_error: this.lastError,
    };
    if (this.schemaId === 'telemetry.FeedbackEvent')
      status.coordinators = this.coordinators.toJSON();
    if (this.schemaId === 'telemetry.RateAdjustment') status.providers = this.providers.toJSON();
    return status;
  }
}
