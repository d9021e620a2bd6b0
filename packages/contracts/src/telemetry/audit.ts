import { z } from 'zod';
import {
  CONTROL_ACTIONS_V1,
  ControlActionKindV1,
  ControlResultV1,
  ControlResultV2,
} from '../control/control-action';
import { EpochSeconds, NonEmptyString, StringMap } from '../primitives';

/**
 * Python core v1 `AuditEnvelope`: who (`actor`, `role`) did what (`action`, the core's
 * `ControlAction` enum `pause | resume | reload`) with which outcome (`result`, a `ControlResult`),
 * when (`ts`). Published on `<ns>.telemetry.audit`.
 */
export const AuditEnvelopeV1 = z.object({
  actor: NonEmptyString,
  role: NonEmptyString,
  action: ControlActionKindV1,
  result: ControlResultV1,
  ts: EpochSeconds,
});

/**
 * v2 keeps `action` within the core's enum (a core reader rejects any other value) and carries what the
 * core cannot name in fields it ignores: `operation` is the verb actually audited (`set_scale`,
 * `replay_dlq`, `login`, ...), `result.outcome` the finer result.
 */
export const AuditEnvelopeV2 = AuditEnvelopeV1.extend({
  result: ControlResultV2,
  /** The audited verb, any lower_snake_case name; `action` is its core form (`coreActionOf`). */
  operation: z
    .string({ error: 'must be a string' })
    .regex(/^[a-z][a-z0-9_.]*$/, { error: 'must be a lower_snake_case name' })
    .optional(),
  /** What the action was aimed at: a service, node or provider, e.g. `pipeline` or `provider:ibkr`. */
  target: z.string({ error: 'must be a string' }).optional(),
  /** Ties the entry to the request that caused it (the control message's envelope id). */
  correlation_id: z.string({ error: 'must be a string' }).optional(),
  /** Extra string context (client address, parameters). */
  attributes: StringMap.optional(),
});

export type AuditEnvelopeV1 = z.infer<typeof AuditEnvelopeV1>;
export type AuditEnvelopeV2 = z.infer<typeof AuditEnvelopeV2>;
export type AuditEnvelope = AuditEnvelopeV2;

/**
 * The core `action` an audited verb travels as: `pause`, `resume` and `reload` are themselves; every
 * other verb changes the running configuration (a scale, a replay, ...), which the core calls `reload`.
 */
export function coreActionOf(operation: string): ControlActionKindV1 {
  return CONTROL_ACTIONS_V1.find((a) => a === operation) ?? 'reload';
}

/** A v2 audit entry for `operation`, with `action` set to its core form. */
export function auditEntry(
  entry: Omit<AuditEnvelopeV2, 'action' | 'operation'> & { operation: string },
): AuditEnvelopeV2 {
  return { ...entry, action: coreActionOf(entry.operation) };
}
