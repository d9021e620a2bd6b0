import { BackpressureLevel } from '@mdp/contracts';

/** Budget scale per backpressure level. */
export type FeedbackPolicy = Record<BackpressureLevel, number>;

export const DEFAULT_FEEDBACK_POLICY: FeedbackPolicy = Object.freeze({
  ok: 1.0,
  soft: 0.5,
  hard: 0.0,
});

/** Normalises an enum value or any-case string (`'SOFT'`, `' hard '`) to a level; throws on anything else. */
export function toBackpressureLevel(level: unknown): BackpressureLevel {
  const parsed = BackpressureLevel.safeParse(
    typeof level === 'string' ? level.trim().toLowerCase() : level,
  );
  if (!parsed.success)
    throw new RangeError(
      `unknown backpressure level ${JSON.stringify(level)} (expected ok | soft | hard)`,
    );
  return parsed.data;
}

export function scaleFor(policy: FeedbackPolicy, level: BackpressureLevel | string): number {
  return policy[toBackpressureLevel(level)];
}

/** Validates a policy: every level present with a scale in [0, 1]. */
export function makePolicy(overrides: Partial<FeedbackPolicy> = {}): FeedbackPolicy {
  const policy = { ...DEFAULT_FEEDBACK_POLICY, ...overrides };
  for (const level of BackpressureLevel.options) {
    const s = policy[level];
    if (typeof s !== 'number' || !(s >= 0 && s <= 1))
      throw new RangeError(`policy scale for "${level}" must be within [0, 1], got ${s}`);
  }
  return Object.freeze(policy);
}
