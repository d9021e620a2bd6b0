import { ExponentialBackoff } from 'cockatiel';
import { backoffGenerator } from '../../src/coordinator/resilience';

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
  const settings = { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 2000, multiplier: 2, jitter: false };

  it('grows exponentially by the multiplier and stops at the cap', () => {
    expect(delays(backoffGenerator(settings), 8)).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
    expect(delays(backoffGenerator({ ...settings, multiplier: 3 }), 4)).toEqual([50, 150, 450, 1350]);
  });

  it('with jitter draws each delay from 50-100 % of the exponential value', () => {
    expect(delays(backoffGenerator({ ...settings, jitter: true }, () => 0), 3)).toEqual([25, 50, 100]);
    expect(delays(backoffGenerator({ ...settings, jitter: true }, () => 0.999999), 3)).toEqual([50, 100, 200]);
    const random = delays(backoffGenerator({ ...settings, jitter: true }), 50);
    random.forEach((d, i) => {
      const base = Math.min(2000, 50 * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(base / 2);
      expect(d).toBeLessThanOrEqual(base);
    });
  });
});
