import Redis from 'ioredis';
import { createEnvelope, createEventBus, PulseBus } from '@mdp/pulse';
import { deleteRedisPrefix, redisUrl, uniqueId, waitFor } from '@mdp/testing';
import { run, RunOptions } from '../src/main';

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs `mdp <argv>` in-process with its output captured. */
export async function mdp(
  argv: string[],
  env: Record<string, string | undefined>,
  extra: Omit<RunOptions, 'env' | 'out' | 'err'> = {},
): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await run(argv, {
    env,
    out: (t) => (out += t),
    err: (t) => (err += t),
    interactive: false,
    ...extra,
  });
  return { code, out, err };
}

/** A namespace of its own on the shared Redis, a bus in it, and cleanup. */
export function isolatedNamespace() {
  const state = {} as { ns: string; env: Record<string, string>; bus: PulseBus; redis: Redis };
  beforeAll(() => {
    state.ns = uniqueId('cli_');
    state.env = { REDIS_URL: redisUrl(), MD_NAMESPACE: state.ns, SCHEMA_TRACK: 'v1' };
    state.bus = createEventBus({
      backend: 'redis',
      redisUrl: redisUrl(),
      namespace: state.ns,
      track: 'v1',
    }) as PulseBus;
    state.redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    await state.bus.close();
    await deleteRedisPrefix(state.redis, state.ns);
    await state.redis.quit();
  });
  return state;
}

export const bar = (symbol: string, ts: number) => ({
  provider: 'test',
  symbol,
  interval: '1m',
  ts,
  open: 1,
  high: 2,
  low: 0.5,
  close: 1.5,
  volume: 10,
});

export const barEnvelope = (symbol: string, ts: number) =>
  createEnvelope('md.Bar', bar(symbol, ts), { key: symbol, track: 'v1' });

/** Waits until `check` holds (the shared `waitFor` of @mdp/testing, with this suite's defaults). */
export const until = (
  check: () => boolean | Promise<boolean>,
  what = 'the condition',
  timeoutMs = 10_000,
) => waitFor(check, { timeoutMs, intervalMs: 50, what });
