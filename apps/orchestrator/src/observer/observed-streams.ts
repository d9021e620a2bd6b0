import { STREAMS, streamSchemaId, type SchemaId, type StreamName } from '@mdp/contracts';

/** A telemetry stream the orchestrator watches, and the one schema its entries must carry. */
export interface ObservedStream {
  /** Logical name; the physical stream is `<MD_NAMESPACE>.<stream>`. */
  stream: StreamName;
  schemaId: SchemaId;
  /**
   * Deliveries before an entry is dead-lettered; default the observer's (1: a contract failure is not
   * fixed by a retry). Streams whose handling writes to the database retry, since an outage passes.
   */
  maxDeliveries?: number;
}

/**
 * Backpressure from the store and the pipeline's reaction to it, every service's heartbeat and the
 * audit entries of all services (SYSTEM.md).
 */
export const OBSERVED_STREAMS: readonly ObservedStream[] = [
  observed(STREAMS.feedback),
  observed(STREAMS.rateAdjustment),
  observed(STREAMS.health),
  observed(STREAMS.audit, 5),
];

function observed(stream: StreamName, maxDeliveries?: number): ObservedStream {
  return { stream, schemaId: streamSchemaId(stream), ...(maxDeliveries ? { maxDeliveries } : {}) };
}

/** Consumer group every orchestrator replica joins (SYSTEM.md). */
export const OBSERVER_GROUP = 'orchestrator';
