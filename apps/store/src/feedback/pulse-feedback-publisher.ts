import {
  STREAMS,
  streamSchemaId,
  type EventEnvelope,
  type FeedbackEvent,
  type SchemaTrack,
} from '@mdp/contracts';
import { envelopeFor, type EventBus, type WireLayout } from '@mdp/pulse';

/** The envelope for `<ns>.telemetry.feedback`: keyed by coordinator, v1 payloads carry only v1 fields. */
export function feedbackEnvelope(
  event: FeedbackEvent,
  track: SchemaTrack,
): EventEnvelope<FeedbackEvent> {
  const headers: Record<string, string> = { source: 'store' };
  if (event.reason) headers.reason = event.reason;
  if (event.utilization !== undefined) headers.utilization = event.utilization.toFixed(4);
  return envelopeFor(streamSchemaId(STREAMS.feedback), event, {
    key: event.coordinator_id,
    ts: event.ts,
    track,
    headers,
  });
}

/**
 * Feedback subscriber publishing each event to Pulse, in `wire` layout: `mdp` (`<ns>.telemetry.feedback`)
 * or `core` (`<ns>:<ns>.telemetry.feedback`, field `data`, as the Python core's bus reads it).
 */
export function pulseFeedbackPublisher(
  bus: EventBus,
  track: SchemaTrack,
  wire: WireLayout = 'mdp',
): (event: FeedbackEvent) => Promise<void> {
  return async (event) => {
    await bus.publish(STREAMS.feedback, feedbackEnvelope(event, track), { wire });
  };
}
