import { z } from 'zod';
import {
  envBool,
  envNonNegativeInt,
  envNumberAtLeast,
  envOptionalString,
  envPositiveInt,
  envPositiveNumber,
  envProblem,
  envString,
  parseEnv,
  serviceEnvShape,
} from '@mdp/service-kit';
import { OVERFLOW_STRATEGIES, OverflowStrategy } from '../coordinator/bounded-queue';
import { DEFAULT_COPY_MIN_ROWS } from '../sinks/upsert';

export const STORE_DEFAULT_PORT = 8081;

const optionalInt = () =>
  envOptionalString().pipe(
    z
      .string()
      .regex(/^\d+$/, { error: 'must be a non-negative integer' })
      .transform(Number)
      .optional(),
  );

const optionalPositiveNumber = () =>
  envOptionalString().pipe(
    z
      .string()
      .transform(Number)
      .refine((n) => Number.isFinite(n) && n > 0, { error: 'must be a number > 0' })
      .optional(),
  );

/** Every setting the store reads (shared ones from SYSTEM.md plus MDS_* / MDS_FB_*). */
export const StoreEnv = z
  .object({
    ...serviceEnvShape(STORE_DEFAULT_PORT),
    MDS_COORDINATOR_CAPACITY: envPositiveInt(10_000),
    MDS_COORDINATOR_WORKERS: envPositiveInt(4),
    MDS_COORDINATOR_BATCH_SIZE: envPositiveInt(500),
    MDS_COORDINATOR_FLUSH_INTERVAL: envPositiveNumber(0.25),
    MDS_COORDINATOR_HIGH_WATERMARK: optionalInt(),
    MDS_COORDINATOR_LOW_WATERMARK: optionalInt(),
    MDS_COORDINATOR_OVERFLOW: envString('block').pipe(
      z.enum(OVERFLOW_STRATEGIES as [OverflowStrategy, ...OverflowStrategy[]], {
        error: 'must be block, drop_oldest or error',
      }),
    ),
    MDS_COORDINATOR_DRAIN_TIMEOUT: envNumberAtLeast(10, 0),
    MDS_COORDINATOR_ID: envString('store'),
    MDS_RETRY_MAX_ATTEMPTS: envPositiveInt(5),
    MDS_RETRY_INITIAL_BACKOFF_MS: envNonNegativeInt(50),
    MDS_RETRY_MAX_BACKOFF_MS: envNonNegativeInt(2000),
    MDS_RETRY_BACKOFF_MULTIPLIER: envNumberAtLeast(2, 1),
    MDS_RETRY_JITTER: envBool(true),
    MDS_CB_FAILURE_THRESHOLD: envPositiveInt(5),
    MDS_CB_HALF_OPEN_AFTER_SEC: envPositiveNumber(1),
    MDS_CB_HALF_OPEN_MAX_SEC: envPositiveNumber(5),
    MDS_COPY_MIN_ROWS: envPositiveInt(DEFAULT_COPY_MIN_ROWS),
    MDS_DB_POOL_MAX: optionalInt(),
    MDS_DB_STATEMENT_TIMEOUT_MS: envPositiveInt(30_000),
    MDS_PGLITE_DIR: envString('.data/store/pglite'),
    MDS_DLQ_DIR: envString('.data/store/dlq'),
    MDS_INGEST_ENABLED: envBool(true),
    MDS_CONSUMER_NAME: envOptionalString(),
    MDS_INGEST_BATCH_SIZE: envPositiveInt(500),
    MDS_INGEST_BLOCK_MS: envPositiveInt(1000),
    MDS_INGEST_CONSUMERS: envPositiveInt(1),
    /**
     * XREADGROUP calls kept ahead per subscription. One, not Pulse's two: while the queue is full the
     * reads ahead wait decoded in the heap and are promoted with every row in them (measured: store
     * README "Memory").
     */
    MDS_INGEST_READ_AHEAD: envPositiveInt(1),
    /** A delivery unacked this long (its store instance died) is reclaimed by another instance. */
    MDS_INGEST_MIN_IDLE_MS: envPositiveInt(30_000),
    /** Consumers idle this long that hold nothing (instances that are gone) leave the group; 0: never. */
    MDS_CONSUMER_GRACE_MS: envNonNegativeInt(600_000),
    MDS_ADMIN_TOKEN: envOptionalString(),
    /** Act on orchestrator control actions (pause / resume ingest, replay_dlq). */
    MDS_CONTROL_ENABLED: envBool(true),
    MDS_FB_ENABLE_FEEDBACK: envBool(true),
    MDS_FB_MIN_DWELL_MS: envNonNegativeInt(1000),
    MDS_FB_REFRESH_MS: envNonNegativeInt(500),
    MDS_FB_REFRESH_OK_MS: envNonNegativeInt(5000),
    MDS_FB_ENABLE_HTTP_BROADCAST: envBool(false),
    MDS_FB_HTTP_ENDPOINT: envOptionalString().pipe(
      z.url({ error: 'must be an http(s) URL' }).optional(),
    ),
    MDS_FB_HTTP_TIMEOUT: envPositiveNumber(2.5),
    MDS_FB_HTTP_MAX_RETRIES: envNonNegativeInt(3),
    MDS_FB_HTTP_BACKOFF: envNumberAtLeast(0.5, 0),
    // Fault injection at the sink edge (system tests, benchmarks): see sinks/sink-faults.ts.
    MDS_FAULT_SINK_DELAY_MS: envNonNegativeInt(0),
    MDS_FAULT_SINK_MAX_ROWS_PER_SEC: optionalPositiveNumber(),
    MDS_FAULT_SINK_DURATION_SEC: optionalPositiveNumber(),
    MDS_FAULT_SINK_ADMIN: envBool(false),
    NODE_ENV: envOptionalString(),
  })
  .superRefine((env, ctx) => {
    const cap = env.MDS_COORDINATOR_CAPACITY;
    const high = env.MDS_COORDINATOR_HIGH_WATERMARK ?? Math.max(1, Math.floor(cap * 0.8));
    const low = env.MDS_COORDINATOR_LOW_WATERMARK ?? Math.min(Math.floor(cap * 0.5), high - 1);
    if (high > cap)
      envProblem(
        ctx,
        'MDS_COORDINATOR_HIGH_WATERMARK',
        `must be <= MDS_COORDINATOR_CAPACITY (${cap}), got ${high}`,
      );
    if (low >= high)
      envProblem(
        ctx,
        'MDS_COORDINATOR_LOW_WATERMARK',
        `must be below the high watermark (${high}), got ${low}`,
      );
    if (env.MDS_RETRY_MAX_BACKOFF_MS < env.MDS_RETRY_INITIAL_BACKOFF_MS) {
      envProblem(
        ctx,
        'MDS_RETRY_MAX_BACKOFF_MS',
        `must be >= MDS_RETRY_INITIAL_BACKOFF_MS (${env.MDS_RETRY_INITIAL_BACKOFF_MS})`,
      );
    }
    // Embedded PGlite needs ~875 MB and keeps its data in the container: never a production database.
    if (env.NODE_ENV === 'production' && !env.DATABASE_URL) {
      envProblem(
        ctx,
        'DATABASE_URL',
        'is required when NODE_ENV=production (embedded PGlite is for development only)',
      );
    }
    if (env.MDS_FB_ENABLE_HTTP_BROADCAST && !env.MDS_FB_HTTP_ENDPOINT) {
      envProblem(ctx, 'MDS_FB_HTTP_ENDPOINT', 'is required when MDS_FB_ENABLE_HTTP_BROADCAST=true');
    }
  });
export type StoreEnv = z.infer<typeof StoreEnv>;

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadStoreEnv(env: Record<string, string | undefined> = process.env): StoreEnv {
  return parseEnv(StoreEnv, env);
}
