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
/** An integer with a default and a lower bound; `error` replaces `must be >= <min>`. */
export const envIntAtLeast = (fallback: number, min: number, error = `must be >= ${min}`) =>
  envInt(fallback).pipe(z.number().int().min(min, { error }));
export const envPositiveInt = (fallback: number) => envIntAtLeast(fallback, 1);
export const envNonNegativeInt = (fallback: number) => envIntAtLeast(fallback, 0);
/** A number with a default and a lower bound (`must be >= <min>`). */
export const envNumberAtLeast = (fallback: number, min: number) =>
  envNumber(fallback).pipe(z.number().min(min, { error: `must be >= ${min}` }));
export const envPositiveNumber = (fallback: number) =>
  envNumber(fallback).pipe(z.number().gt(0, { error: 'must be > 0' }));
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
  /**
   * Redis Cluster seed nodes, `host:port,host:port`. When set it wins over REDIS_URL: every service
   * talks to the cluster (ioredis Cluster for commands, each reader to its stream's slot owner).
   */
  REDIS_CLUSTER_NODES: envOptionalString().pipe(
    z
      .string()
      .regex(/^\s*[^\s,:]+:\d+\s*(,\s*[^\s,:]+:\d+\s*)*$/, {
        error: 'must be a comma list of host:port',
      })
      .optional(),
  ),
  /**
   * Partitions of every md.* stream (FNV-1a of the envelope key, see @mdp/pulse). Every service of
   * a namespace must use the same value: the first one to start records it in Redis, and a service
   * started with another value refuses to start.
   */
  MD_PARTITIONS: envInt(1).pipe(
    z.number().int().min(1, { error: 'must be >= 1' }).max(1024, { error: 'must be <= 1024' }),
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
  PULSE_MAX_ENTRY_BYTES: envIntAtLeast(1024 * 1024, 1024),
  DATABASE_URL: envOptionalString(),
  /** How often each service publishes its HealthStatus on `<ns>.telemetry.health`. */
  HEARTBEAT_INTERVAL_MS: envIntAtLeast(5000, 100, 'must be >= 100 (milliseconds)'),
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

/** What every service's schema starts from: the shared variables and `PORT` with its default. */
export const serviceEnvShape = (defaultPort: number) => ({
  ...sharedEnvShape,
  ...portShape(defaultPort),
});

/** Reports a problem with `variable` from a schema's `superRefine`; `parseEnv` lists it with the others. */
export function envProblem(ctx: z.RefinementCtx, variable: string, message: string): void {
  ctx.addIssue({ code: 'custom', path: [variable], message });
}

/** Parses `env` with `schema`; throws ConfigError listing every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`),
  );
}
