import { RateCoordinator } from '../../src/rate/rate-coordinator';
import { RateCoordinatorAdapter } from '../../src/rate/rate-coordinator-adapter';
import { TokenBucket } from '../../src/rate/token-bucket';
import { FakeClock, flush } from '../support/fake-clock';

/** Tokens granted over `ms` when polled every `stepMs` (bucket starts empty of its burst). */
function grantedOver(
  coord: RateCoordinator,
  clock: FakeClock,
  provider: string,
  ms: number,
  stepMs = 10,
): Promise<number> {
  let granted = 0;
  return (async () => {
    for (let t = 0; t < ms; t += stepMs) {
      await clock.advance(stepMs);
      while (coord.tryAcquire(provider)) granted++;
    }
    return granted;
  })();
}

function drain(coord: RateCoordinator, provider: string): number {
  let n = 0;
  while (coord.tryAcquire(provider)) n++;
  return n;
}

describe('TokenBucket', () => {
  it('starts full, refills at rate and caps at burst', () => {
    const b = new TokenBucket({ rate: 10, burst: 5 }, 0);
    expect(b.available(0)).toBe(5);
    for (let i = 0; i < 5; i++) expect(b.tryTake(0)).toBe(true);
    expect(b.tryTake(0)).toBe(false);
    expect(b.waitMs(0)).toBeCloseTo(100);
    expect(b.available(300)).toBeCloseTo(3);
    expect(b.available(10_000)).toBe(5);
  });

  it('settles tokens earned at the old rate before a scale change', () => {
    const b = new TokenBucket({ rate: 10, burst: 100, startFull: false }, 0);
    b.setScale(0.5, 1000); // 10 tokens earned at scale 1
    expect(b.available(2000)).toBeCloseTo(15); // + 5 at scale 0.5
    b.setScale(0, 2000);
    expect(b.available(60_000)).toBeCloseTo(15);
    expect(b.waitMs(60_000, 20)).toBe(Infinity);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBucket({ rate: 0, burst: 1 }, 0)).toThrow(/rate/);
    expect(() => new TokenBucket({ rate: 1, burst: 0 }, 0)).toThrow(/burst/);
    expect(() => new TokenBucket({ rate: 1, burst: 1 }, 0).setScale(-1, 0)).toThrow(/scale/);
    expect(() => new TokenBucket({ rate: 1, burst: 1 }, 0).setScale(NaN, 0)).toThrow(/scale/);
  });
});

describe('RateCoordinator budget scale', () => {
  let clock: FakeClock;
  let coord: RateCoordinator;

  beforeEach(() => {
    clock = new FakeClock();
    coord = new RateCoordinator(clock);
    coord.registerProvider('p', { rate: 100, burst: 10 });
    drain(coord, 'p');
  });

  it('grants the configured rate at scale 1', async () => {
    expect(await grantedOver(coord, clock, 'p', 1000)).toBe(100);
  });

  it('0.5 halves the rate', async () => {
    coord.setBudgetScale('p', 0.5);
    expect(await grantedOver(coord, clock, 'p', 1000)).toBe(50);
    expect(coord.snapshot('p').effectiveRate).toBe(50);
  });

  it('0 pauses, 1 restores', async () => {
    coord.setBudgetScale('p', 0);
    expect(await grantedOver(coord, clock, 'p', 5000)).toBe(0);
    coord.setBudgetScale('p', 1);
    expect(await grantedOver(coord, clock, 'p', 1000)).toBe(100);
  });

  it('operator pause overrides feedback scale until resumed', async () => {
    coord.pause('p');
    coord.setBudgetScale('p', 1);
    expect(await grantedOver(coord, clock, 'p', 1000)).toBe(0);
    expect(coord.snapshot('p')).toMatchObject({ paused: true, scale: 1, effectiveRate: 0 });
    coord.resume('p');
    expect(await grantedOver(coord, clock, 'p', 1000)).toBe(100);
  });

  it('keeps settings made before the provider registers', () => {
    coord.setBudgetScale('late', 0.25);
    coord.setGlobalPressure('late', 'SOFT');
    coord.registerProvider('late', { rate: 40, burst: 1 });
    expect(coord.snapshot('late')).toMatchObject({
      scale: 0.25,
      pressure: 'soft',
      effectiveRate: 10,
    });
  });

  it('records pressure levels from enum values or any-case strings, rejects unknown ones', () => {
    coord.setGlobalPressure('p', 'hard');
    expect(coord.snapshot('p').pressure).toBe('hard');
    coord.setGlobalPressure('p', ' Ok ');
    expect(coord.snapshot('p').pressure).toBe('ok');
    expect(() => coord.setGlobalPressure('p', 'panic')).toThrow(
      /unknown backpressure level "panic"/,
    );
    expect(() => coord.setBudgetScale('p', -0.1)).toThrow(/scale/);
  });

  it('notifies listeners on every change', () => {
    const seen: number[] = [];
    coord.onChange((s) => seen.push(s.scale));
    coord.setBudgetScale('p', 0.5);
    coord.setBudgetScale('p', 0);
    expect(seen).toEqual([0.5, 0]);
  });
});

describe('RateCoordinator.acquire (waiting)', () => {
  it('waits for refill on the injected clock', async () => {
    const clock = new FakeClock();
    const coord = new RateCoordinator(clock);
    coord.registerProvider('p', { rate: 10, burst: 1 });
    expect(await coord.acquire('p')).toBe(true);
    let done = false;
    void coord.acquire('p').then(() => (done = true));
    await clock.advance(50);
    expect(done).toBe(false);
    await clock.advance(60);
    expect(done).toBe(true);
  });

  it('a waiter at scale 0 resumes as soon as the scale is restored', async () => {
    const clock = new FakeClock();
    const coord = new RateCoordinator(clock);
    coord.registerProvider('p', { rate: 10, burst: 1 });
    await coord.acquire('p');
    coord.setBudgetScale('p', 0);
    let done = false;
    void coord.acquire('p').then(() => (done = true));
    await clock.advance(3_600_000);
    expect(done).toBe(false);
    expect(clock.pendingTimers).toBe(0); // no "infinite" timer parked
    coord.setBudgetScale('p', 1);
    await clock.advance(100);
    expect(done).toBe(true);
  });

  it('returns false when aborted and throws for an unknown provider', async () => {
    const clock = new FakeClock();
    const coord = new RateCoordinator(clock);
    coord.registerProvider('p', { rate: 1, burst: 1 });
    await coord.acquire('p');
    const ac = new AbortController();
    const pending = coord.acquire('p', 1, ac.signal);
    ac.abort();
    await flush();
    await expect(pending).resolves.toBe(false);
    expect(clock.pendingTimers).toBe(0);
    await expect(coord.acquire('nope')).rejects.toThrow(/not registered/);
  });
});

describe('RateCoordinatorAdapter', () => {
  it('applies a RateAdjustment as pressure + budget scale', () => {
    const coord = new RateCoordinator(new FakeClock());
    coord.registerProvider('ibkr', { rate: 100, burst: 10 });
    new RateCoordinatorAdapter(coord).apply({
      provider: 'ibkr',
      scale: 0.5,
      reason: 'soft',
      ts: 1,
    });
    expect(coord.snapshot('ibkr')).toMatchObject({
      scale: 0.5,
      pressure: 'soft',
      effectiveRate: 50,
    });
  });
});
