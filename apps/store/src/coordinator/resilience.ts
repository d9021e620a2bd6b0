import {
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  GeneratorFn,
  RetryPolicy,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
} from 'cockatiel';

export interface RetrySettings {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  jitter: boolean;
}

export interface BreakerSettings {
  failureThreshold: number;
  /** Wait before the first half-open probe; doubled after every probe that fails. */
  halfOpenAfterMs: number;
  /** The longest wait between probes. */
  halfOpenMaxMs: number;
}

export const DEFAULT_RETRY: RetrySettings = {
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 2000,
  multiplier: 2,
  jitter: true,
};
export const DEFAULT_BREAKER: BreakerSettings = {
  failureThreshold: 5,
  halfOpenAfterMs: 1000,
  halfOpenMaxMs: 30_000,
};

/**
 * `initial * multiplier^n`, capped; with jitter each delay is drawn from 50-100% of that (cockatiel's
 * own no-jitter generator hard-codes the exponent 2, so the multiplier setting needs this one).
 */
export function backoffGenerator(
  settings: RetrySettings,
  random: () => number = Math.random,
): GeneratorFn<number> {
  return (attempt = 0) => {
    const base = Math.min(
      settings.maxBackoffMs,
      settings.initialBackoffMs * settings.multiplier ** attempt,
    );
    const delay = settings.jitter ? base * (0.5 + random() * 0.5) : base;
    return [Math.max(0, Math.round(delay)), attempt + 1];
  };
}

/**
 * cockatiel 4 hands policies `unknown`. Not `instanceof Error`: errors raised by Node's own sockets come
 * from another realm under Jest's VM sandbox, and a thrown non-Error object still deserves a verdict.
 */
function isErrorLike(err: unknown): err is Error {
  return typeof err === 'object' && err !== null;
}

/** Retries only errors `isRetryable` accepts (never an open circuit: that is held, not retried). */
export function buildRetryPolicy(
  settings: RetrySettings,
  isRetryable: (err: Error) => boolean,
  random?: () => number,
): RetryPolicy {
  return retry(
    handleWhen(
      (err) =>
        isErrorLike(err) &&
        !isBrokenCircuitError(err) &&
        !isTaskCancelledError(err) &&
        isRetryable(err),
    ),
    {
      // cockatiel counts retries, the setting counts attempts (the first try included).
      maxAttempts: Math.max(0, settings.maxAttempts - 1),
      backoff: new ExponentialBackoff({
        generator: backoffGenerator(settings, random),
        initialDelay: settings.initialBackoffMs,
        maxDelay: settings.maxBackoffMs,
        exponent: settings.multiplier,
      }),
    },
  );
}

/**
 * Opens after `failureThreshold` consecutive retryable failures. Half-opens after `halfOpenAfterMs`,
 * then after twice as long for every probe that fails, up to `halfOpenMaxMs`; closing starts over.
 * A short first wait means writes resume within about a second of the database coming back, and
 * the doubling keeps a long outage from being probed every second.
 */
export function buildCircuitBreaker(
  settings: BreakerSettings,
  isRetryable: (err: Error) => boolean,
): CircuitBreakerPolicy {
  return circuitBreaker(
    handleWhen((err) => isErrorLike(err) && isRetryable(err)),
    {
      halfOpenAfter: new ExponentialBackoff({
        generator: (attempt: number = 0) => [halfOpenDelayMs(settings, attempt + 1), attempt + 1],
      }),
      breaker: new ConsecutiveBreaker(Math.max(1, settings.failureThreshold)),
    },
  );
}

/** Wait from the `opensInARow`-th opening (1 = opened from closed) to the next half-open probe. */
export function halfOpenDelayMs(settings: BreakerSettings, opensInARow: number): number {
  const initial = Math.max(1, settings.halfOpenAfterMs);
  return Math.min(
    Math.max(initial, settings.halfOpenMaxMs),
    initial * 2 ** Math.max(0, opensInARow - 1),
  );
}

export type CircuitStateName = 'closed' | 'open' | 'half_open' | 'isolated';

export function circuitStateName(state: CircuitState): CircuitStateName {
  switch (state) {
    case CircuitState.Closed:
      return 'closed';
    case CircuitState.Open:
      return 'open';
    case CircuitState.HalfOpen:
      return 'half_open';
    default:
      return 'isolated';
  }
}

/** Gauge value as in the original dashboard: closed 0, open 1, half-open 2. */
export function circuitStateValue(state: CircuitState): number {
  return state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 2 : 1;
}
