import { z } from 'zod';
import { EpochSeconds, NonEmptyString, StringMap } from '../primitives';

/**
 * Python core v1 `AuditEnvelope`: who (`actor`, `role`) did what (`action`) with which outcome
 * (`result`), when (`ts`). Published on `<ns>.telemetry.audit`.
 *
 * `action` and `result` are open strings, not enums: audit entries describe control actions, logins,
 * rejected requests and whatever comes later, and an auditor must never drop an entry because it does
 * not know the verb. Conventional values: action = a control action name (`pause`, `set_scale`, ...)
 * or `<area>.<verb>`; result = a `ControlResult.status` (`ok | accepted | rejected | error`).
 */
export const AuditEnvelopeV1 = z.object({
  actor: NonEmptyString,
  role: NonEmptyString,
  action: NonEmptyString,
  result: NonEmptyString,
  ts: EpochSeconds,
});

export const AuditEnvelopeV2 = AuditEnvelopeV1.extend({
  /** What the action was aimed at: a service, node or provider, e.g. `pipeline` or `provider:ibkr`. */
  target: z.string({ error: 'must be a string' }).optional(),
  /** Ties the entry to the request that caused it (the control message's envelope id). */
  correlation_id: z.string({ error: 'must be a string' }).optional(),
  /** Human-readable outcome detail, e.g. the rejection reason. */
  detail: z.string({ error: 'must be a string' }).optional(),
  /** Extra string context (client address, parameters). */
  attributes: StringMap.optional(),
});

export type AuditEnvelopeV1 = z.infer<typeof AuditEnvelopeV1>;
export type AuditEnvelopeV2 = z.infer<typeof AuditEnvelopeV2>;
export type AuditEnvelope = AuditEnvelopeV2;
