import {
  STREAMS,
  streamSchemaId,
  streamSchemaIds,
  type EventEnvelope,
  type FeedbackEvent,
  type RateAdjustment,
} from '@mdp/contracts';
import { envelopeFor, retry, type Delivery, type EventBus, type WireLayout } from '@mdp/pulse';
import { ManagedSubscription, type Logger, type StreamSubscriber } from '@mdp/service-kit';
import type { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { FeedbackHandler } from './feedback-handler';

export const FEEDBACK_GROUP = 'pipeline';

export interface FeedbackConsumerOptions {
  consumer: string;
  group?: string;
  /** Dead-letter after this many failed deliveries. */
  maxDeliveries?: number;
  /** `shared` survives restarts and spans instances; `memory` is per process. */
  idempotency?: 'memory' | 'shared';
  /** In-process attempts before a delivery counts as failed. */
  attempts?: number;
  blockMs?: number;
  /** Redeliver a failed (unacked) message after it has been idle this long. */
  minIdleMs?: number;
  /**
   * Entry layout of the feedback and rate adjustment streams: `mdp` (default) or `core`, the Python
   * market-data-core's (`<ns>:<ns>.<stream>`, field `data`, entry id as envelope id).
   */
  wire?: WireLayout;
  logger?: Logger;
  metrics?: PipelineMetrics;
  /** Called after each applied adjustment (tests, benchmarks). */
  onAdjustment?: (adjustment: RateAdjustment, envelope: EventEnvelope<FeedbackEvent>) => void;
}

/**
 * Store feedback over Pulse: `<ns>.telemetry.feedback`, group `pipeline`. Pulse decodes and validates
 * each envelope (junk and other schemas go to the dead-letter stream), drops envelope ids already handled, counts
 * `pulse_consume_total` / `pulse_lag_seconds`, acks on success and fails (retry, then dead-letter) on
 * error. This class turns each event into a rate adjustment and announces it on
 * `<ns>.telemetry.rate_adjustment`.
 */
export class FeedbackConsumer implements StreamSubscriber {
  private readonly reading = new ManagedSubscription(() =>
    this.bus.subscribe<FeedbackEvent>(
      {
        stream: STREAMS.feedback,
        schemaIds: streamSchemaIds(STREAMS.feedback),
        wire: this.opts.wire,
        group: this.opts.group ?? FEEDBACK_GROUP,
        consumer: this.opts.consumer,
        maxDeliveries: this.opts.maxDeliveries ?? 5,
        idempotency: this.opts.idempotency ?? 'memory',
        blockMs: this.opts.blockMs,
        minIdleMs: this.opts.minIdleMs,
        middleware: [retry({ attempts: this.opts.attempts ?? 3 })],
      },
      async (envelope, delivery) => void (await this.handle(envelope, delivery)),
    ),
  );

  constructor(
    private readonly bus: EventBus,
    private readonly handler: FeedbackHandler,
    private readonly opts: FeedbackConsumerOptions,
  ) {}

  get running(): boolean {
    return this.reading.running;
  }

  start(): void {
    if (this.running) return;
    this.reading.start();
    this.opts.logger?.info(
      {
        stream: this.bus.streamName(STREAMS.feedback),
        wire: this.opts.wire ?? 'mdp',
        group: this.opts.group ?? FEEDBACK_GROUP,
        consumer: this.opts.consumer,
      },
      'feedback consumer started',
    );
  }

  stop(): Promise<void> {
    return this.reading.stop();
  }

  /** Applies one feedback event; throwing fails the delivery (retried, then dead-lettered). */
  async handle(
    envelope: EventEnvelope<FeedbackEvent>,
    _delivery?: Delivery<FeedbackEvent>,
  ): Promise<RateAdjustment> {
    const event = envelope.payload;
    this.opts.metrics?.feedbackReceived.inc({
      source: event.source ?? 'unknown',
      level: String(event.level).toLowerCase(),
    });
    const adjustment = await this.handler.handle(event, { correlationId: envelope.id });
    this.opts.metrics?.rateAdjustments.inc({
      provider: adjustment.provider,
      reason: adjustment.reason,
    });
    this.opts.logger?.info(
      {
        provider: adjustment.provider,
        scale: adjustment.scale,
        level: adjustment.reason,
        coordinator: event.coordinator_id,
        id: envelope.id,
      },
      'rate adjusted from feedback',
    );
    this.opts.onAdjustment?.(adjustment, envelope);
    await this.bus.publish(
      STREAMS.rateAdjustment,
      envelopeFor(streamSchemaId(STREAMS.rateAdjustment), adjustment, {
        track: this.bus.track,
        key: adjustment.provider,
      }),
      { wire: this.opts.wire },
    );
    return adjustment;
  }
}
