/**
 * Pipeline configuration: the shared variables (SYSTEM.md) plus PIPELINE_*, parsed once at start-up.
 * A bad value stops the service with every problem named by variable.
 */
import os from 'os';
import { z } from 'zod';
import {
  envBool,
  envInt,
  envNonNegativeInt,
  envNumber,
  envOptionalString,
  envPositiveInt,
  envPositiveNumber,
  envProblem,
  envString,
  parseEnv,
  serviceEnvShape,
} from '@mdp/service-kit';
import { intervalSeconds } from './providers/interval';

export const DEFAULT_PORT = 8082;

const unit = (fallback: number) =>
  envNumber(fallback).pipe(
    z.number().min(0, { error: 'must be >= 0' }).max(1, { error: 'must be <= 1' }),
  );
/** Strictly between 0 and 1. */
const fraction = (fallback: number) =>
  envNumber(fallback).pipe(
    z.number().gt(0, { error: 'must be > 0' }).lt(1, { error: 'must be < 1' }),
  );
const list = (fallback: string) =>
  envString(fallback).transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

const PROVIDER_KINDS = ['synthetic', 'replay', 'binance'] as const;

export const PipelineEnv = z
  .object({
    ...serviceEnvShape(DEFAULT_PORT),
    /** Provider whose budget store feedback adjusts. */
    PIPELINE_FB_PROVIDER: envString('synthetic'),
    PIPELINE_FB_SCALE_OK: unit(1.0),
    PIPELINE_FB_SCALE_SOFT: unit(0.5),
    PIPELINE_FB_SCALE_HARD: unit(0.0),
    PIPELINE_FB_MAX_DELIVERIES: envPositiveInt(5),
    /** Step policy: a lowered scale stands this long before a higher one replaces it. */
    PIPELINE_FB_MIN_DWELL_MS: envNonNegativeInt(1000),
    /** A level is stale after its event's ttl_s, or this long for events without one (0: never). */
    PIPELINE_FB_TTL_MS: envNonNegativeInt(10_000),
    /** A stale level's hold on the rate fades to nothing over this long. */
    PIPELINE_FB_DECAY_MS: envNonNegativeInt(5000),
    /** How store feedback sets the rate: fixed scale per level, or steering the store's queue fill. */
    PIPELINE_FLOW_POLICY: envString('step').pipe(
      z.enum(['step', 'adaptive'], { error: 'must be step or adaptive' }),
    ),
    PIPELINE_FLOW_TARGET: fraction(0.6),
    PIPELINE_FLOW_HORIZON_MS: envPositiveInt(2000),
    PIPELINE_FLOW_INCREASE: envPositiveNumber(0.5),
    PIPELINE_FLOW_DECREASE: fraction(0.7),
    /** `name=weight,...`: the providers feedback governs and their shares (default: PIPELINE_FB_PROVIDER=1). */
    PIPELINE_FLOW_WEIGHTS: envString('').transform((raw, ctx) => {
      const weights: Record<string, number> = {};
      for (const part of raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        const [name, value, extra] = part.split('=').map((x) => x.trim());
        const weight = Number(value);
        if (!name || extra !== undefined || !(weight > 0) || !Number.isFinite(weight)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not name=weight with a weight > 0`,
          });
          return z.NEVER;
        }
        weights[name] = weight;
      }
      return weights;
    }),
    PIPELINE_IDEMPOTENCY: envString('shared').pipe(
      z.enum(['memory', 'shared'], { error: 'must be memory or shared' }),
    ),
    /** Unique per instance (also the provider lease holder); set it to keep one name across restarts. */
    PIPELINE_CONSUMER_NAME: envString(`pipeline-${os.hostname()}-${process.pid}`),
    /**
     * Provider leader lease in Redis: with several pipeline instances, each provider runs on the one
     * holding its lease; the others stand by and take over within this time of the leader's death.
     * 0: every instance runs its providers.
     */
    PIPELINE_PROVIDER_LEASE_MS: envNonNegativeInt(10_000),
    PIPELINE_CONTROL_ENABLED: envBool(true),
    PIPELINE_CONTROL_GROUP: envString('pipeline'),
    /** Which providers run: a comma list of synthetic | replay | binance, or `none`. */
    PIPELINE_PROVIDERS: list('synthetic').transform((kinds, ctx) => {
      const unknown = kinds.filter(
        (k) => !(PROVIDER_KINDS as readonly string[]).includes(k) && k !== 'none',
      );
      if (unknown.length) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown provider(s) ${unknown.map((k) => `"${k}"`).join(', ')}: use a comma list of ${PROVIDER_KINDS.join(' | ')} (or none)`,
        });
        return z.NEVER;
      }
      return kinds as Array<(typeof PROVIDER_KINDS)[number] | 'none'>;
    }),
    PIPELINE_SYNTHETIC_NAME: envString('synthetic'),
    PIPELINE_SYNTHETIC_SYMBOLS: list('AAPL,MSFT,SPY').pipe(
      z.array(z.string()).min(1, { error: 'needs at least one symbol' }),
    ),
    PIPELINE_SYNTHETIC_SEED: envInt(42),
    PIPELINE_SYNTHETIC_INTERVAL: envString('1m').refine(validInterval, {
      error: 'must look like 1s, 5m, 1h or 1d',
    }),
    /** Stop after this many bars (system tests, benchmarks); unset: endless. */
    PIPELINE_SYNTHETIC_MAX_BARS: envOptionalString().pipe(
      z
        .string()
        .regex(/^[1-9]\d*$/, { error: 'must be a positive integer' })
        .transform(Number)
        .optional(),
    ),
    PIPELINE_SYNTHETIC_RATE: envPositiveNumber(10),
    PIPELINE_SYNTHETIC_BURST: envPositiveInt(20),
    PIPELINE_REPLAY_NAME: envString('replay'),
    PIPELINE_REPLAY_FILE: envOptionalString(),
    PIPELINE_REPLAY_KIND: envString('bar').pipe(
      z.enum(['bar', 'option', 'news', 'fundamentals'], {
        error: 'must be bar, option, news or fundamentals',
      }),
    ),
    PIPELINE_REPLAY_SPEED: envString('max').transform((raw, ctx): number | 'max' => {
      if (raw.toLowerCase() === 'max') return 'max';
      const n = Number(raw);
      if (Number.isFinite(n) && n > 0) return n;
      ctx.addIssue({ code: 'custom', message: `must be a number > 0 or "max", got "${raw}"` });
      return z.NEVER;
    }),
    PIPELINE_REPLAY_LOOP: envBool(false),
    PIPELINE_REPLAY_RATE: envPositiveNumber(100),
    PIPELINE_REPLAY_BURST: envPositiveInt(100),
    PIPELINE_BINANCE_NAME: envString('binance'),
    PIPELINE_BINANCE_URL: envString('wss://stream.binance.com:9443').pipe(
      z.string().regex(/^wss?:\/\//, { error: 'must be a ws:// or wss:// URL' }),
    ),
    PIPELINE_BINANCE_SYMBOLS: list('btcusdt,ethusdt').pipe(
      z.array(z.string()).min(1, { error: 'needs at least one symbol' }),
    ),
    PIPELINE_BINANCE_INTERVAL: envString('1m').pipe(
      z.string().regex(/^\d+[smhdwM]$/, {
        error: 'must be a Binance kline interval such as 1s, 1m, 1h, 1d',
      }),
    ),
    PIPELINE_BINANCE_RATE: envPositiveNumber(50),
    PIPELINE_BINANCE_BURST: envPositiveInt(50),
    PIPELINE_BATCH_SIZE: envPositiveInt(100),
    PIPELINE_BATCH_FLUSH_MS: envPositiveInt(200),
    PIPELINE_RETRY_BASE_MS: envPositiveInt(500),
    PIPELINE_RETRY_MAX_MS: envPositiveInt(30_000),
  })
  .superRefine((env, ctx) => {
    if (env.PIPELINE_PROVIDERS.includes('replay') && !env.PIPELINE_REPLAY_FILE) {
      envProblem(
        ctx,
        'PIPELINE_REPLAY_FILE',
        'is required when PIPELINE_PROVIDERS includes replay',
      );
    }
    if (env.PIPELINE_PROVIDERS.includes('none') && env.PIPELINE_PROVIDERS.length > 1) {
      envProblem(ctx, 'PIPELINE_PROVIDERS', '"none" cannot be combined with providers');
    }
    const names = env.PIPELINE_PROVIDERS.filter((k) => k !== 'none').map(
      (k) =>
        ({
          synthetic: env.PIPELINE_SYNTHETIC_NAME,
          replay: env.PIPELINE_REPLAY_NAME,
          binance: env.PIPELINE_BINANCE_NAME,
        })[k],
    );
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) {
      envProblem(
        ctx,
        'PIPELINE_PROVIDERS',
        `two providers are named "${duplicate}": give each a distinct PIPELINE_<KIND>_NAME`,
      );
    }
    if (env.PIPELINE_RETRY_MAX_MS < env.PIPELINE_RETRY_BASE_MS) {
      envProblem(ctx, 'PIPELINE_RETRY_MAX_MS', 'must be >= PIPELINE_RETRY_BASE_MS');
    }
  });

export type PipelineConfig = z.infer<typeof PipelineEnv>;

/** Throws `ConfigError` listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): PipelineConfig {
  return parseEnv(PipelineEnv, env);
}

function validInterval(s: string): boolean {
  try {
    intervalSeconds(s);
    return true;
  } catch {
    return false;
  }
}
