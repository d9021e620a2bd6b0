import { randomUUID } from 'crypto';
import type { EventEnvelope, FeedbackEvent, FeedbackEventV1, SchemaTrack } from '@mdp/contracts';
import type { EventBus, WireLayout } from '@mdp/pulse';

export const FEEDBACK_STREAM = 'telemetry.feedback';
export const FEEDBACK_SCHEMA_ID = 'telemetry.FeedbackEvent';

/** The envelope for `<ns>.telemetry.feedback`: keyed by coordinator, v1 payloads carry only v1 fields. */
export function feedbackEnvelope(
  event: FeedbackEvent,
  track: SchemaTrack,
): EventEnvelope<FeedbackEvent> {
  const v1: FeedbackEventV1 = {
    coordinator_id: event.coordinator_id,
    queue_size: event.queue_size,
    capacity: event.capacity,
    level: event.level,
    source: event.source,
    ts: event.ts,
  };
  const headers: Record<string, string> = { source: 'store' };
  if (event.reason) headers.reason = event.reason;
  if (event.utilization !== undefined) headers.utilization = event.utilization.toFixed(4);
  return {
    id: randomUUID(),
    key: event.coordinator_id,
    ts: event.ts,
    meta: { schema_id: FEEDBACK_SCHEMA_ID, track, headers },
    payload: track === 'v1' ? v1 : event,
  };
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
    await bus.publish(FEEDBACK_STREAM, feedbackEnvelope(event, track), { wire });
  };
}
