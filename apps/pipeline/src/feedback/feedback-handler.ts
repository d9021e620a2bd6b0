import type {
  BackpressureLevel,
  FeedbackEvent,
  RateAdjustment,
  RateController,
} from '@mdp/contracts';
import {
  DEFAULT_FEEDBACK_POLICY,
  FeedbackPolicy,
  scaleFor,
  toBackpressureLevel,
} from './feedback-policy';
import type { FlowDriver } from '../flow/flow-driver';

/** A feedback event whose level may still be a string in any case (older producers). */
export type FeedbackInput = Omit<FeedbackEvent, 'level'> & { level: BackpressureLevel | string };

export interface HandleContext {
  /** Envelope id of the feedback event, carried into v2 adjustments for tracing. */
  correlationId?: string;
}

/**
 * Turns store backpressure into a budget change for one provider: `FeedbackEvent -> RateAdjustment`
 * through the policy, then `RateController.apply`. Transport-agnostic (the consumer owns delivery).
 */
export class FeedbackHandler {
  constructor(
    private readonly rate: RateController,
    readonly provider: string,
    readonly policy: FeedbackPolicy = DEFAULT_FEEDBACK_POLICY,
    /** When given, decisions come from its flow controller (dwell, freshness, adaptive policy). */
    readonly flow?: FlowDriver,
  ) {}

  toAdjustment(event: FeedbackInput, ctx: HandleContext = {}): RateAdjustment {
    const level = toBackpressureLevel(event.level);
    const adjustment: RateAdjustment = {
      provider: this.provider,
      scale: scaleFor(this.policy, level),
      reason: level,
      ts: event.ts,
    };
    if (event.coordinator_id) adjustment.source_coordinator_id = event.coordinator_id;
    if (ctx.correlationId) adjustment.correlation_id = ctx.correlationId;
    return adjustment;
  }

  async handle(event: FeedbackInput, ctx: HandleContext = {}): Promise<RateAdjustment> {
    if (this.flow) return this.flow.feedback(event, ctx);
    const adjustment = this.toAdjustment(event, ctx);
    await this.rate.apply(adjustment);
    return adjustment;
  }
}
