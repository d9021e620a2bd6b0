import { createEventBus, InMemoryStreams, type PulseBus } from '@mdp/pulse';
import { leaseName, ProviderLeases, type LeaseStore } from '../../src/leader/provider-leases';

const TTL = 300;
const until = async (cond: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('ProviderLeases: one pipeline instance runs each provider', () => {
  let world: InMemoryStreams;
  let buses: PulseBus[];
  const bus = () => {
    const b = createEventBus({ backend: 'inmem', inmem: world });
    buses.push(b);
    return b;
  };
  beforeEach(() => {
    world = new InMemoryStreams();
    buses = [];
  });
  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  it('the second instance stands by and takes over once the leader releases on shutdown', async () => {
    const a = new ProviderLeases(bus(), 'pipeline-a', TTL);
    const b = new ProviderLeases(bus(), 'pipeline-b', TTL);
    const stop = new AbortController();
    expect(await a.acquire('synthetic', stop.signal)).toBe(true);
    let bLeads = false;
    const standby = b.acquire('synthetic', stop.signal).then((ok) => (bLeads = ok));
    await new Promise((r) => setTimeout(r, TTL * 2));
    expect(a.holds('synthetic')).toBe(true);
    expect(bLeads).toBe(false);
    expect(b.holders.get('synthetic')).toBe('pipeline-a');
    await a.releaseAll();
    await standby;
    expect(b.holds('synthetic')).toBe(true);
    expect(a.holds('synthetic')).toBe(false);
    stop.abort();
    await b.releaseAll();
  });

  it('a leader that cannot extend its lease stops before the lease expires and another takes it', async () => {
    const shared = bus();
    let down = false;
    const flaky: LeaseStore = {
      holdLease: (name, holder, ttl) =>
        down ? Promise.reject(new Error('Redis down')) : shared.holdLease(name, holder, ttl),
      releaseLease: (name, holder) => shared.releaseLease(name, holder),
    };
    const a = new ProviderLeases(flaky, 'pipeline-a', TTL);
    const stop = new AbortController();
    expect(await a.acquire('synthetic', stop.signal)).toBe(true);
    down = true;
    const lostAt = Date.now();
    await until(() => !a.holds('synthetic'));
    expect(Date.now() - lostAt).toBeLessThan(TTL);
    // The lease itself runs out a little later; then the standby gets it.
    const b = new ProviderLeases(bus(), 'pipeline-b', TTL);
    expect(await b.acquire('synthetic', stop.signal)).toBe(true);
    expect(await shared.holdLease(leaseName('synthetic'), 'someone', TTL)).toBe('pipeline-b');
    stop.abort();
    await Promise.all([a.releaseAll(), b.releaseAll()]);
  });
  it('a Redis outage is one warn line when lease calls start failing and one info line when they answer again', async () => {
    const shared = bus();
    let failures = 0;
    const flaky: LeaseStore = {
      holdLease: (name, holder, ttl) =>
        failures > 0 && failures-- > 0
          ? Promise.reject(new Error('Redis down'))
          : shared.holdLease(name, holder, ttl),
      releaseLease: (name, holder) => shared.releaseLease(name, holder),
    };
    const lines: Array<[string, string]> = [];
    const logger = {
      info: (_o: object, msg: string) => lines.push(['info', msg]),
      warn: (_o: object, msg: string) => lines.push(['warn', msg]),
      error: (_o: object, msg: string) => lines.push(['error', msg]),
      debug: () => undefined,
    };
    const a = new ProviderLeases(flaky, 'pipeline-a', TTL, logger as never);
    const stop = new AbortController();
    expect(await a.acquire('synthetic', stop.signal)).toBe(true);
    failures = 6; // six extensions in a row fail, then Redis answers again
    await until(
      () => failures === 0 && a.holders.size > 0 && lines.some(([, m]) => /again/.test(m)),
      5000,
    );
    expect(lines.filter(([level]) => level === 'warn')).toEqual([
      ['warn', 'provider lease: Redis did not answer; taking and extending leases keep retrying'],
    ]);
    expect(lines.filter(([level]) => level === 'info').map(([, m]) => m)).toContain(
      'provider lease: Redis answers again',
    );
    stop.abort();
    await a.releaseAll();
  });
});
