import { z } from 'zod';

/** Actions the control API sends: the core's three plus mdp's v2 extras. */
export const CONTROL_API_ACTIONS = [
  'pause',
  'resume',
  'reload',
  'set_scale',
  'replay_dlq',
] as const;
export type ControlApiAction = (typeof CONTROL_API_ACTIONS)[number];

const name = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' });

/**
 * Body of POST /control. `target` says who acts: a service role (`pipeline`, `store`), a node id,
 * `provider:<name>` (the pipeline) or `stream:<name>` (the store). `set_scale` needs `provider` and
 * `scale` (target defaults to `provider:<provider>`); `replay_dlq` needs `stream` (target defaults to
 * `stream:<stream>`).
 */
export const ControlRequest = z
  .strictObject(
    {
      action: z.enum(CONTROL_API_ACTIONS, {
        error: `must be one of ${CONTROL_API_ACTIONS.join(' | ')}`,
      }),
      target: name.optional(),
      provider: name.optional(),
      scale: z
        .number({ error: 'must be a number' })
        .min(0, { error: 'must be >= 0' })
        .max(1, { error: 'must be <= 1' })
        .optional(),
      stream: name.optional(),
      reason: z
        .string({ error: 'must be a string' })
        .max(500, { error: 'must be at most 500 characters' })
        .optional(),
      /** Who is asking (recorded in the audit trail; the token is what authorises). */
      actor: name.optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field(s): ${issue.keys.join(', ')}`
          : 'must be a JSON object',
    },
  )
  .superRefine((r, ctx) => {
    if (r.action === 'set_scale') {
      if (r.provider === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['provider'],
          message: 'is required when action is set_scale',
        });
      if (r.scale === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['scale'],
          message: 'is required when action is set_scale',
        });
    }
    if (r.action === 'replay_dlq' && r.stream === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['stream'],
        message: 'is required when action is replay_dlq',
      });
    if (r.action !== 'set_scale' && r.action !== 'replay_dlq' && r.target === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['target'],
        message:
          'is required (a service such as pipeline or store, a node id, provider:<name> or stream:<name>)',
      });
  })
  .transform((r) => ({
    ...r,
    target:
      r.target ?? (r.action === 'set_scale' ? `provider:${r.provider}` : `stream:${r.stream}`),
  }));
export type ControlRequest = z.output<typeof ControlRequest>;

export interface FieldIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
}
