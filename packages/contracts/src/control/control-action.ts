import { z } from 'zod';
import { ContractError, DecodeResult } from '../errors';
import { EpochSeconds, NonEmptyString, SchemaTrack, UnitInterval } from '../primitives';

/** Python core v1 `ControlAction` enum. */
export const CONTROL_ACTIONS_V1 = ['pause', 'resume', 'reload'] as const;
/** v2 adds `set_scale` (needs `provider` and `scale`). */
export const CONTROL_ACTIONS_V2 = [...CONTROL_ACTIONS_V1, 'set_scale'] as const;

export const ControlActionKindV1 = z.enum(CONTROL_ACTIONS_V1, {
  error: 'must be one of pause | resume | reload',
});
export const ControlActionKindV2 = z.enum(CONTROL_ACTIONS_V2, {
  error: 'must be one of pause | resume | reload | set_scale',
});
export type ControlActionKindV1 = z.infer<typeof ControlActionKindV1>;
export type ControlActionKind = z.infer<typeof ControlActionKindV2>;

/** The actions a reader of each track can perform. */
export const CONTROL_ACTIONS: Record<SchemaTrack, readonly ControlActionKind[]> = {
  v1: CONTROL_ACTIONS_V1,
  v2: CONTROL_ACTIONS_V2,
};

/**
 * On the wire `action` is any lower_snake_case name, on both tracks, so that every reader parses every
 * message (a v1 reader parses a v2 `set_scale`). Whether the reader can *perform* it is a separate,
 * explicit step: `toControlCommand` rejects unknown actions with an `unsupported_action` error.
 */
const actionName = (track: SchemaTrack) =>
  z
    .string({ error: 'must be a string' })
    .regex(/^[a-z][a-z0-9_]*$/, { error: 'must be a lower_snake_case action name' })
    .meta({
      description: `Action to perform. ${track} actions: ${CONTROL_ACTIONS[track].join(' | ')}. Readers accept any action name and reject the ones they cannot perform.`,
    });

/**
 * Message on `<ns>.control.actions` (schema id `control.ControlAction`): `{ action, ts, target? }`.
 * The envelope id is the request id; `target` narrows who acts (a node role such as `pipeline`, or a
 * node id); absent means every consumer of the stream.
 */
export const ControlActionV1 = z.object({
  action: actionName('v1'),
  ts: EpochSeconds,
  target: NonEmptyString.optional(),
});

export const ControlActionV2 = ControlActionV1.extend({
  action: actionName('v2'),
  /** `set_scale`: the provider whose request budget is scaled. */
  provider: NonEmptyString.optional(),
  /** `set_scale`: multiplier of the provider's rate, 0..1 (the same meaning as RateAdjustment.scale). */
  scale: UnitInterval.optional(),
  /** Who asked (the authenticated actor of the control API). */
  actor: z.string({ error: 'must be a string' }).optional(),
  /** Links the action, its audit entries and its results. */
  correlation_id: z.string({ error: 'must be a string' }).optional(),
  reason: z.string({ error: 'must be a string' }).optional(),
}).superRefine((m, ctx) => {
  if (m.action !== 'set_scale') return;
  if (m.provider === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['provider'],
      message: 'is required when action is set_scale',
    });
  if (m.scale === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['scale'],
      message: 'is required when action is set_scale',
    });
});

export type ControlActionV1 = z.infer<typeof ControlActionV1>;
export type ControlActionV2 = z.infer<typeof ControlActionV2>;
export type ControlAction = ControlActionV2;

/** A control message a service can act on, narrowed by action. */
export type ControlCommand =
  | { action: ControlActionKindV1; ts: number; target?: string }
  | { action: 'set_scale'; ts: number; target?: string; provider: string; scale: number };

/**
 * Turns a decoded control message (either track) into a command this reader can perform. Unknown
 * actions, or actions newer than `accept`, give `unsupported_action`; a `set_scale` without provider
 * or scale gives `invalid`. Never throws.
 */
export function toControlCommand(
  message: Pick<ControlActionV2, 'action' | 'ts' | 'target' | 'provider' | 'scale'>,
  opts: { accept?: SchemaTrack } = {},
): DecodeResult<ControlCommand> {
  const accept = opts.accept ?? 'v2';
  const supported = CONTROL_ACTIONS[accept];
  const action = supported.find((a) => a === message.action);
  if (action === undefined) {
    const issue = {
      path: 'action',
      message: `unsupported control action "${message.action}" (this reader performs ${supported.join(' | ')})`,
    };
    return {
      ok: false,
      error: new ContractError('unsupported_action', [issue], 'control.ControlAction'),
    };
  }
  const base =
    message.target === undefined ? { ts: message.ts } : { ts: message.ts, target: message.target };
  if (action !== 'set_scale') return { ok: true, value: { action, ...base } };
  const issues = [];
  if (message.provider === undefined)
    issues.push({ path: 'provider', message: 'is required when action is set_scale' });
  if (message.scale === undefined)
    issues.push({ path: 'scale', message: 'is required when action is set_scale' });
  if (message.provider === undefined || message.scale === undefined) {
    return { ok: false, error: new ContractError('invalid', issues, 'control.ControlAction') };
  }
  return { ok: true, value: { action, ...base, provider: message.provider, scale: message.scale } };
}

/** Python core v1 `ControlResult.status`: `Literal["ok", "error"]`. */
export const ControlResultStatus = z.enum(['ok', 'error'], {
  error: 'must be one of ok | error',
});
export type ControlResultStatus = z.infer<typeof ControlResultStatus>;

/**
 * The finer outcome mdp reports (v2 `ControlResult.outcome`): `accepted` = published, not performed
 * yet; `ok` = performed; `rejected` = refused (unsupported, unauthorised, invalid); `error` = it
 * failed. A core reader only knows `status`, so each outcome maps onto one (`statusOf`).
 */
export const CONTROL_OUTCOMES = ['ok', 'accepted', 'rejected', 'error'] as const;
export const ControlOutcome = z.enum(CONTROL_OUTCOMES, {
  error: 'must be one of ok | accepted | rejected | error',
});
export type ControlOutcome = z.infer<typeof ControlOutcome>;

/** The core `status` an outcome travels as: done or on its way is `ok`, anything refused or failed `error`. */
export function statusOf(outcome: ControlOutcome): ControlResultStatus {
  return outcome === 'ok' || outcome === 'accepted' ? 'ok' : 'error';
}

/**
 * Python core v1 `ControlResult(status, detail)`: `status` is `ok | error`, `detail` a string or
 * null (the core's default). The answer of the control API and the `result` of an audit entry.
 */
export const ControlResultV1 = z.object(
  {
    status: ControlResultStatus,
    detail: z.string({ error: 'must be a string or null' }).nullable().default(null),
  },
  { error: 'must be an object { status, detail }' },
);

/** v2 adds the finer `outcome` and context; `status` stays the core's, so a core reader accepts it. */
export const ControlResultV2 = ControlResultV1.extend({
  outcome: ControlOutcome.optional(),
  action: z.string({ error: 'must be a string' }).optional(),
  target: z.string({ error: 'must be a string' }).optional(),
  correlation_id: z.string({ error: 'must be a string' }).optional(),
  ts: EpochSeconds.optional(),
}).superRefine((r, ctx) => {
  if (r.outcome !== undefined && statusOf(r.outcome) !== r.status)
    ctx.addIssue({
      code: 'custom',
      path: ['status'],
      message: `must be ${statusOf(r.outcome)} when outcome is ${r.outcome}`,
    });
});

export type ControlResultV1 = z.infer<typeof ControlResultV1>;
export type ControlResultV2 = z.infer<typeof ControlResultV2>;
export type ControlResult = ControlResultV2;

/** A v2 result whose `status` agrees with `outcome` (the only way producers should build one). */
export function controlResult(
  outcome: ControlOutcome,
  detail: string | null = null,
  extra: Omit<ControlResultV2, 'status' | 'detail' | 'outcome'> = {},
): ControlResultV2 {
  return { status: statusOf(outcome), detail, outcome, ...extra };
}
