/**
 * Environment configuration: one zod schema per service, parsed once at start-up. A bad value stops
 * the service with every problem listed by variable name (`MDS_COORDINATOR_CAPACITY: must be > 0`)
 * instead of surfacing later as a confusing runtime failure.
 */
import { z } from 'zod';
import { SchemaTrack } from '@mdp/contracts';
import { LOG_FORMATS } from './logger';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Env = Record<string, string | undefined>;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** `true|false|1|0|yes|no|on|off` (case-insensitive); anything else is an error, not `false`. */
export const envBool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const v = raw.trim().toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${raw}"` });
      return z.NEVER;
    });

function numeric(fallback: number, integer: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const n = Number(raw);
      if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
        ctx.addIssue({
          code: 'custom',
          message: `must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`,
        });
        return z.NEVER;
      }
      return n;
    });
}

/** Integer with a default; chain `.pipe(z.number().min(1, ...))` for bounds. */
export const envInt = (fallback: number) => numeric(fallback, true);
export const envNumber = (fallback: number) => numeric(fallback, false);
export const envString = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? fallback : raw.trim()));
export const envOptionalString = () =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()));

/** The variables every service shares (docs/system.md is generated from this list). */
export const sharedEnvShape = {
  PULSE_ENABLED: envBool(true),
  EVENT_BUS_BACKEND: envString('inmem').pipe(
    z.enum(['inmem', 'redis'], { error: 'must be inmem or redis' }),
  ),
  REDIS_URL: envString('redis://localhost:6379/0').pipe(
    z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }),
  ),
  MD_NAMESPACE: envString('mdp').pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, { error: 'must be a non-empty name of letters, digits, _ or -' }),
  ),
  SCHEMA_TRACK: envString('v1').pipe(SchemaTrack),
  /**
   * Entry layout of the telemetry streams mdp shares with the Python market-data-core (feedback, rate
   * adjustments): `mdp` (pulse's own) or `core` (the core's key and `data` field). Market data,
   * control and audit streams stay `mdp`.
   */
  PULSE_WIRE: envString('mdp').pipe(z.enum(['mdp', 'core'], { error: 'must be mdp or core' })),
  PUBLISHER_TOKEN: envOptionalString(),
  /** Largest stream entry field a consumer reads; larger entries are dead-lettered as too large. */
  PULSE_MAX_ENTRY_BYTES: envInt(1024 * 1024).pipe(
    z.number().int().min(1024, { error: 'must be >= 1024' }),
  ),
  DATABASE_URL: envOptionalString(),
  /** How often each service publishes its HealthStatus on `<ns>.telemetry.health`. */
  HEARTBEAT_INTERVAL_MS: envInt(5000).pipe(
    z.number().int().min(100, { error: 'must be >= 100 (milliseconds)' }),
  ),
  LOG_LEVEL: envString('info').pipe(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  ),
  LOG_FORMAT: envString('auto').pipe(
    z.enum(LOG_FORMATS, { error: 'must be auto, json or pretty' }),
  ),
};
export const SharedEnv = z.object(sharedEnvShape);
export type SharedEnv = z.infer<typeof SharedEnv>;

/** Adds `PORT` with the service's default port. */
export const portShape = (defaultPort: number) => ({
  PORT: envInt(defaultPort).pipe(
    z.number().int().min(0).max(65535, { error: 'must be a TCP port (0-65535)' }),
  ),
});

/** Parses `env` with `schema`; throws ConfigError listing every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`),
  );
}
