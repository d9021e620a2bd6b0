import { sleep } from '@mdp/pulse';

/**
 * Time source for pacing. Everything that waits goes through a Clock so tests can drive time by hand
 * (see test/support/fake-clock.ts) instead of sleeping.
 */
export interface Clock {
  /** Milliseconds, monotonic enough for rate limiting. */
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep,
};
