import { z } from 'zod';
import { AnyString, EpochSeconds, HealthState, StringMap } from '../primitives';

/**
 * Python core v1 `telemetry.HealthComponent`: required `name`, `state`; `details` is a string map.
 * Plain strings (not non-empty) because the Python schema has no length bound: same bounds, same wire.
 */
export const HealthComponentV1 = z.object({
  name: AnyString,
  state: HealthState,
  details: StringMap.default({}),
});

/** v2 adds nothing yet; it exists so every contract has both tracks. */
export const HealthComponentV2 = HealthComponentV1.extend({});

/** Python core v1 `telemetry.HealthStatus`: required `service`, `state`, `version`, `ts`. */
export const HealthStatusV1 = z.object({
  service: AnyString,
  state: HealthState,
  components: z.array(HealthComponentV1).default([]),
  version: AnyString,
  ts: EpochSeconds,
});

export const HealthStatusV2 = HealthStatusV1.extend({
  components: z.array(HealthComponentV2).default([]),
  /** The `/ready` verdict next to the `/health` one: false when a readiness check is unhealthy. */
  ready: z.boolean({ error: 'must be a boolean' }).optional(),
  /** Seconds since the process started. */
  uptime_s: z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).optional(),
});

export type HealthComponentV1 = z.infer<typeof HealthComponentV1>;
export type HealthComponentV2 = z.infer<typeof HealthComponentV2>;
export type HealthComponent = HealthComponentV2;
export type HealthStatusV1 = z.infer<typeof HealthStatusV1>;
export type HealthStatusV2 = z.infer<typeof HealthStatusV2>;
export type HealthStatus = HealthStatusV2;
