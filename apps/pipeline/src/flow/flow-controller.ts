import type { BackpressureLevel } from '@mdp/contracts';
import type { FeedbackInput } from '../feedback/feedback-handler';

export const FLOW_POLICIES = ['step', 'adaptive'] as const;
export type FlowPolicyName = (typeof FLOW_POLICIES)[number];

/** A provider governed by store feedback: its configured budget and its share of the store. */
export interface GovernedProvider {
  provider: string;
  /** Records/s at scale 1 (the provider's configured rate). */
  rate: number;
  /** Relative share of the store's capacity when it is the bottleneck. */
  weight: number;
}

/**
 * Decides each governed provider's budget scale from store feedback. Pure: time comes in as `now`
 * (milliseconds), so tests drive it with a fake clock and the driver (FlowDriver) re-evaluates it on
 * a timer for decisions that depend on time alone (dwell, stale feedback, probing up).
 */
export interface FlowController {
  readonly policy: FlowPolicyName;
  /** Records one feedback event received at `now`; false when a newer one already superseded it. */
  observe(event: FeedbackInput, now: number, providers?: readonly GovernedProvider[]): boolean;
  /** Scale (0..1) per provider at `now`. */
  scales(now: number, providers: readonly GovernedProvider[]): Map<string, number>;
  /** The level the decision is based on (the reason of the resulting rate adjustments). */
  level(now: number): BackpressureLevel;
}
