import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
} from '@nestjs/common';
import {
  AuditEnvelope,
  decodePayload,
  EventEnvelope,
  FeedbackEvent,
  HealthStatus,
  RateAdjustment,
} from '@mdp/contracts';
import type { Delivery, EventBus } from '@mdp/pulse';
import {
  BUS_CONNECTION,
  BusConnection,
  EVENT_BUS,
  HealthCheckResult,
  HealthRegistry,
  ManagedSubscription,
  SERVICE_LOGGER,
} from '@mdp/service-kit';
import type { Logger } from '@mdp/service-kit';
import { Registry } from 'prom-client';
import { OBSERVED_STREAMS, OBSERVER_GROUP, ObservedStream } from './observed-streams';
import { ObserverMetrics } from './observer-metrics';
import { StreamStats, StreamStatus } from './stream-stats';

export const OBSERVER_OPTIONS = Symbol('OBSERVER_OPTIONS');

export interface ObserverOptions {
  /** Consumer name inside the `orchestrator` group; one per replica. */
  consumer: string;
  streams?: readonly ObservedStream[];
  /**
   * Deliveries before an entry is dead-lettered. The observer's only failure is a payload that does
   * not match its stream's contract, which no retry fixes, so the default sends it to `<stream>.dlq`
   * on the first failure.
   */
  maxDeliveries?: number;
  /** Test seam for lag; default `Date.now`. */
  now?: () => number;
}

/**
 * Reacts to what the observer decoded (audit trail, service registry, cockpit). A listener that throws
 * fails the delivery, so the entry is delivered again (up to the stream's maxDeliveries, then DLQ).
 */
export interface ObserverListener {
  feedback?(event: FeedbackEvent, envelope: EventEnvelope): void | Promise<void>;
  rateAdjustment?(adjustment: RateAdjustment, envelope: EventEnvelope): void | Promise<void>;
  health?(status: HealthStatus, envelope: EventEnvelope): void | Promise<void>;
  audit?(entry: AuditEnvelope, envelope: EventEnvelope): void | Promise<void>;
}

export interface ObserverStatus {
  enabled: boolean;
  running: boolean;
  backend: string;
  requested: string;
  degraded_reason: string | null;
  namespace: string;
  track: string;
  group: string;
  consumer: string;
  started_at: number | null;
  streams: Record<string, StreamStatus>;
}

/**
 * Watches the telemetry streams as consumer group `orchestrator`: validates each entry against its
 * stream's contract, counts it per stream/outcome, records lag (envelope ts to handling) and the
 * latest backpressure level / rate scale it saw. Invalid entries are failed with the contract's
 * reason, so the bus dead-letters them; nothing is dropped silently.
 */
@Injectable()
export class PulseObserver implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: ObserverMetrics;
  private readonly stats = new Map<string, StreamStats>();
  private readonly streams: readonly ObservedStream[];
  private readonly now: () => number;
  private readonly reading = new ManagedSubscription(() =>
    this.streams.map((s) =>
      this.bus.subscribe(
        {
          stream: s.stream,
          group: OBSERVER_GROUP,
          consumer: this.options.consumer,
          maxDeliveries: s.maxDeliveries ?? this.options.maxDeliveries ?? 1,
        },
        (_envelope, delivery) => this.handle(s, delivery),
      ),
    ),
  );
  private readonly listeners: ObserverListener[] = [];
  private startedAt: number | null = null;

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(BUS_CONNECTION) private readonly conn: BusConnection,
    @Inject(OBSERVER_OPTIONS) private readonly options: ObserverOptions,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    registry: Registry,
    health: HealthRegistry,
  ) {
    this.metrics = new ObserverMetrics(registry);
    this.streams = options.streams ?? OBSERVED_STREAMS;
    this.now = options.now ?? Date.now;
    for (const s of this.streams)
      this.stats.set(s.stream, new StreamStats(s.stream, bus.streamName(s.stream), s.schemaId));
    health.register('observer', (): HealthCheckResult => {
      if (this.running)
        return {
          state: 'healthy',
          details: { streams: String(this.streams.length), group: OBSERVER_GROUP },
        };
      return {
        state: 'unhealthy',
        details: { reason: this.startedAt === null ? 'not subscribed yet' : 'stopped' },
      };
    });
  }

  get running(): boolean {
    return this.reading.running;
  }

  /** Adds a listener; register before the application starts. */
  listen(listener: ObserverListener): void {
    this.listeners.push(listener);
  }

  onApplicationBootstrap(): void {
    this.reading.start();
    this.startedAt = this.now() / 1000;
    this.logger.info(
      {
        group: OBSERVER_GROUP,
        consumer: this.options.consumer,
        streams: this.streams.map((s) => this.bus.streamName(s.stream)),
      },
      'observer subscribed',
    );
  }

  /** Stops reading before the bus closes; in-flight handlers finish and are acked. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.reading.stop();
  }

  status(): ObserverStatus {
    return {
      enabled: this.conn.requested !== 'disabled',
      running: this.running,
      backend: this.conn.mode,
      requested: this.conn.requested,
      degraded_reason: this.conn.degradedReason ?? null,
      namespace: this.bus.namespace,
      track: this.bus.track,
      group: OBSERVER_GROUP,
      consumer: this.options.consumer,
      started_at: this.startedAt,
      streams: Object.fromEntries([...this.stats].map(([name, s]) => [name, s.status()])),
    };
  }

  private async handle(s: ObservedStream, delivery: Delivery): Promise<void> {
    const stats = this.stats.get(s.stream)!;
    const { envelope } = delivery;
    const nowMs = this.now();
    const track = envelope.meta.track;
    const checked = this.validate(s, envelope.meta.schema_id, track, envelope.payload);
    if (typeof checked === 'string') {
      const reason = checked;
      stats.recordInvalid(envelope.id, reason, nowMs);
      this.metrics.events.inc({ stream: s.stream, track, outcome: 'invalid' });
      this.logger.warn(
        { stream: s.stream, id: envelope.id, entryId: delivery.entryId, reason },
        'invalid telemetry event; failing it to the dead-letter stream',
      );
      throw new Error(reason);
    }
    const lagMs = Math.max(0, nowMs - envelope.ts * 1000);
    stats.recordOk(envelope, lagMs, nowMs);
    this.metrics.events.inc({ stream: s.stream, track, outcome: 'ok' });
    this.metrics.lag.observe({ stream: s.stream }, lagMs / 1000);
    if (s.schemaId === 'telemetry.FeedbackEvent') {
      const event = checked.value as FeedbackEvent;
      stats.recordFeedback(event);
      this.metrics.level(event.coordinator_id, event.level);
      for (const l of this.listeners) await l.feedback?.(event, envelope);
    } else if (s.schemaId === 'telemetry.RateAdjustment') {
      const adjustment = checked.value as RateAdjustment;
      stats.recordRateAdjustment(adjustment);
      this.metrics.rateScale.set({ provider: adjustment.provider }, adjustment.scale);
      for (const l of this.listeners) await l.rateAdjustment?.(adjustment, envelope);
    } else if (s.schemaId === 'telemetry.HealthStatus') {
      for (const l of this.listeners) await l.health?.(checked.value as HealthStatus, envelope);
    } else if (s.schemaId === 'telemetry.AuditEnvelope') {
      for (const l of this.listeners) await l.audit?.(checked.value as AuditEnvelope, envelope);
    }
  }

  /** The decoded payload, or why the entry does not belong on this stream. */
  private validate(
    s: ObservedStream,
    schemaId: string,
    track: string,
    payload: unknown,
  ): { value: unknown } | string {
    if (schemaId !== s.schemaId)
      return `${s.stream} carries ${s.schemaId}, got meta.schema_id "${schemaId}"`;
    const decoded = decodePayload(schemaId, track, payload);
    if (decoded.ok) return { value: decoded.value };
    return decoded.error.message;
  }
}
