import type { SchemaId } from '@mdp/contracts';

/** A telemetry stream the orchestrator watches, and the one schema its entries must carry. */
export interface ObservedStream {
  /** Logical name; the physical stream is `<MD_NAMESPACE>.<stream>`. */
  stream: string;
  schemaId: SchemaId;
}

/** Backpressure from the store and the pipeline's reaction to it (SYSTEM.md). */
export const OBSERVED_STREAMS: readonly ObservedStream[] = [
  { stream: 'telemetry.feedback', schemaId: 'telemetry.FeedbackEvent' },
  { stream: 'telemetry.rate_adjustment', schemaId: 'telemetry.RateAdjustment' },
];

/** Consumer group every orchestrator replica joins (SYSTEM.md). */
export const OBSERVER_GROUP = 'orchestrator';
