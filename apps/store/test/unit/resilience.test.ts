import { CircuitState, ExponentialBackoff, isBrokenCircuitError } from 'cockatiel';
import {
  backoffGenerator,
  buildCircuitBreaker,
  DEFAULT_BREAKER,
} from '../../src/coordinator/resilience';

function delays(gen: ReturnType<typeof backoffGenerator>, n: number): number[] {
  // The same walk cockatiel's retry policy does: factory.next() is the first delay.
  const out: number[] = [];
  let b = new ExponentialBackoff({ generator: gen }).next();
  for (let i = 0; i < n; i++) {
    out.push(b.duration);
    b = b.next(undefined);
  }
  return out;
}

describe('retry backoff', () => {
  const settings = {
    maxAttempts: 10,
    initialBackoffMs: 50,
    maxBackoffMs: 2000,
    multiplier: 2,
    jitter: false,
  };

  it('grows exponentially by the multiplier and stops at the cap', () => {
    expect(delays(backoffGenerator(settings), 8)).toEqual([
      50, 100, 200, 400, 800, 1600, 2000, 2000,
    ]);
    expect(delays(backoffGenerator({ ...settings, multiplier: 3 }), 4)).toEqual([
      50, 150, 450, 1350,
    ]);
  });

  it('with jitter draws each delay from 50-100 % of the exponential value', () => {
    expect(
      delays(
        backoffGenerator({ ...settings, jitter: true }, () => 0),
        3,
      ),
    ).toEqual([25, 50, 100]);
    expect(
      delays(
        backoffGenerator({ ...settings, jitter: true }, () => 0.999999),
        3,
      ),
    ).toEqual([50, 100, 200]);
    const random = delays(backoffGenerator({ ...settings, jitter: true }), 50);
    random.forEach((d, i) => {
      const base = Math.min(2000, 50 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(base / 2);
      expect(d).toBeLessThanOrEqual(base);
    });
  });
});

describe('circuit breaker half-open backoff', () => {
  const retryable = () => true;
  const fail = () => Promise.reject(new Error('connection refused'));
  const ok = () => Promise.resolve('ok');

  /** Opens the breaker, then reports after how many ms (in 100 ms steps) a probe is let through. */
  async function probeDelay(
    breaker: ReturnType<typeof buildCircuitBreaker>,
    maxMs = 120_000,
  ): Promise<number> {
    const opened = Date.now();
    for (;;) {
      try {
        await breaker.execute(fail);
      } catch (err) {
        if (!isBrokenCircuitError(err)) return Date.now() - opened; // the probe ran (and failed: open again)
      }
      if (Date.now() - opened > maxMs) return Infinity;
      jest.setSystemTime(Date.now() + 100);
    }
  }

  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('with the defaults, probes about 1 s after opening, doubling per failed probe up to the cap', async () => {
    const breaker = buildCircuitBreaker(DEFAULT_BREAKER, retryable);
    for (let i = 0; i < DEFAULT_BREAKER.failureThreshold; i++)
      await breaker.execute(fail).catch(() => undefined);
    expect(breaker.state).toBe(CircuitState.Open);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) delays.push(await probeDelay(breaker));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('starts again from the first delay once a probe succeeds and the circuit closes', async () => {
    const breaker = buildCircuitBreaker(
      { failureThreshold: 1, halfOpenAfterMs: 500, halfOpenMaxMs: 5000 },
      retryable,
    );
    await breaker.execute(fail).catch(() => undefined);
    expect([
      await probeDelay(breaker),
      await probeDelay(breaker),
      await probeDelay(breaker),
    ]).toEqual([1000, 2000, 4000].map((d) => d / 2));
    jest.setSystemTime(Date.now() + 4000); // the third probe failed: the next one waits 4 x 500 ms
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe(CircuitState.Closed);
    await breaker.execute(fail).catch(() => undefined);
    expect(await probeDelay(breaker)).toBe(500);
  });
});
