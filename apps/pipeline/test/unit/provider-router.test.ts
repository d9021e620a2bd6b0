import { Registry } from 'prom-client';
import type { Logger } from '@mdp/service-kit';
import { PipelineMetrics } from '../../src/metrics/pipeline-metrics';
import type { BarRecord, MarketRecord, Provider } from '../../src/providers/provider';
import { SyntheticProvider } from '../../src/providers/synthetic-provider';
import { RateCoordinator } from '../../src/rate/rate-coordinator';
import { BatchPublisher } from '../../src/router/batch-publisher';
import { backoffMs, ProviderRouter } from '../../src/router/provider-router';
import type { ProviderGate } from '../../src/leader/provider-leases';
import { FakeClock, flush } from '../support/fake-clock';
import { RecordingBus } from '../support/recording-bus';

const bar = (symbol: string, i: number): BarRecord => ({
  kind: 'bar',
  key: symbol,
  data: {
    provider: 'counting',
    symbol,
    interval: '1m',
    ts: 1_700_000_000 + i * 60,
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: i,
    trades: 3,
    vwap: 1.2,
  },
});

type LogLine = [level: string, msg: string, fields: Record<string, unknown>];

/** A logger that keeps every warn, error and info line. */
function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg: string) =>
    void lines.push([level, msg, obj as Record<string, unknown>]);
  const logger = {
    warn: at('warn'),
    error: at('error'),
    info: at('info'),
    child: () => logger,
  } as unknown as Logger;
  return { logger, lines };
}

const messages = (lines: LogLine[]) => lines.map(([level, msg]) => [level, msg]);

/** Endless provider that counts how far its iterator was advanced. */
class CountingProvider implements Provider {
  readonly kinds = ['bar'] as const;
  pulled = 0;
  failAt?: number;
  constructor(readonly name: string) {}
  async *stream(signal: AbortSignal): AsyncIterable<MarketRecord> {
    while (!signal.aborted) {
      if (this.failAt !== undefined && this.pulled === this.failAt) {
        this.failAt = undefined;
        throw new Error(`${this.name} connection reset`);
      }
      yield bar(`S${this.name}`, this.pulled++);
    }
  }
}

function setup(opts: { batchSize?: number; track?: 'v1' | 'v2'; gate?: ProviderGate } = {}) {
  const clock = new FakeClock();
  const bus = new RecordingBus(opts.track);
  const registry = new Registry();
  const coordinator = new RateCoordinator(clock);
  const metrics = new PipelineMetrics(registry, coordinator);
  const publisher = new BatchPublisher(bus.asBus(), {
    batchSize: opts.batchSize ?? 5,
    flushIntervalMs: 1000,
    clock,
    metrics,
  });
  const router = new ProviderRouter({
    coordinator,
    publisher,
    clock,
    metrics,
    retry: { baseMs: 1000, maxMs: 8000, random: () => 0.999999 },
    gate: opts.gate,
  });
  return { clock, bus, registry, coordinator, metrics, publisher, router };
}

const metricValue = async (registry: Registry, name: string, labels: Record<string, string>) =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  )?.value ?? 0;

describe('ProviderRouter', () => {
  it('publishes records as envelopes keyed by symbol, in batches, paced by the provider budget', async () => {
    const { clock, bus, router, publisher } = setup({ batchSize: 5, track: 'v2' });
    const p = new CountingProvider('a');
    router.add(p, { rate: 10, burst: 10 });
    router.start();
    await clock.advance(1000);
    // burst 10 + 10/s for one second
    expect(p.pulled).toBeGreaterThanOrEqual(20);
    expect(p.pulled).toBeLessThanOrEqual(21);
    expect(bus.batches.every((b) => b.stream === 'md.bars')).toBe(true);
    // The burst fills whole batches; after it, each record goes once the budget runs out.
    expect(bus.batches.map((b) => b.envelopes.length)).toEqual([5, 5, ...Array(10).fill(1)]);
    const env = bus.published()[0];
    expect(env).toMatchObject({
      key: 'Sa',
      meta: { schema_id: 'md.Bar', track: 'v2', headers: { provider: 'a' } },
      payload: { symbol: 'Sa', trades: 3, vwap: 1.2 },
    });
    expect(typeof env.id).toBe('string');
    await router.stop();
    await publisher.close();
    expect(bus.published().map((e) => (e.payload as { volume: number }).volume)).toEqual([
      ...Array(p.pulled).keys(),
    ]);
  });

  it('strips v2-only bar fields when publishing on track v1', async () => {
    const { clock, bus, router, publisher } = setup({ batchSize: 1, track: 'v1' });
    router.add(new CountingProvider('a'), { rate: 1, burst: 1 });
    router.start();
    await clock.advance(0);
    await router.stop();
    await publisher.close();
    expect(bus.published()[0].payload).not.toHaveProperty('trades');
    expect(bus.published()[0].payload).not.toHaveProperty('vwap');
  });

  it('scale 0 stops advancing the provider; scale 1 continues from the same position', async () => {
    const { clock, bus, coordinator, router, publisher } = setup({ batchSize: 1 });
    const p = new CountingProvider('a');
    router.add(p, { rate: 10, burst: 1 });
    router.start();
    await clock.advance(500);
    coordinator.setBudgetScale('a', 0);
    await flush();
    const pulledAtPause = p.pulled;
    await clock.advance(60_000);
    expect(p.pulled).toBe(pulledAtPause);
    coordinator.setBudgetScale('a', 1);
    await clock.advance(500);
    expect(p.pulled).toBeGreaterThan(pulledAtPause);
    await router.stop();
    await publisher.close();
    // Nothing skipped or repeated across the pause.
    expect(bus.published().map((e) => (e.payload as { volume: number }).volume)).toEqual([
      ...Array(p.pulled).keys(),
    ]);
  });

  it('keeps the other providers going while a failing one is retried with backoff', async () => {
    const { clock, registry, router, publisher } = setup({ batchSize: 1 });
    const bad = new CountingProvider('bad');
    bad.failAt = 2;
    const good = new CountingProvider('good');
    router.add(bad, { rate: 10, burst: 1 });
    router.add(good, { rate: 10, burst: 1 });
    router.start();
    await clock.advance(250); // tokens at 0, 100, 200 ms: the third pull fails at 200 ms
    expect(router.states().find((s) => s.name === 'bad')).toMatchObject({
      status: 'backing_off',
      failures: 1,
      lastError: 'bad connection reset',
    });
    const goodBefore = good.pulled;
    await clock.advance(900); // backoff for attempt 1 is ~1000 ms: still waiting at 1150 ms
    expect(bad.pulled).toBe(2);
    expect(good.pulled).toBeGreaterThan(goodBefore);
    await clock.advance(200);
    expect(bad.pulled).toBeGreaterThan(2);
    expect(router.states().find((s) => s.name === 'bad')!.status).toBe('running');
    expect(await metricValue(registry, 'pipeline_provider_errors_total', { provider: 'bad' })).toBe(
      1,
    );
    await router.stop();
    await publisher.close();
  });

  it('a failed publish keeps the batch and delivers it later, in order', async () => {
    const { clock, bus, registry, router, publisher } = setup({ batchSize: 2 });
    bus.failNext = 1;
    const p = new SyntheticProvider({ symbols: ['X'], seed: 1, startTs: 0, maxBars: 6 });
    router.add(p, { rate: 1000, burst: 1000 });
    router.start();
    await clock.advance(5000);
    await router.idle();
    await publisher.close();
    expect(bus.published().map((e) => (e.payload as { ts: number }).ts)).toEqual([
      0, 60, 120, 180, 240, 300,
    ]);
    expect(
      await metricValue(registry, 'pipeline_publish_errors_total', { stream: 'md.bars' }),
    ).toBe(1);
    expect(
      await metricValue(registry, 'pipeline_published_records_total', { stream: 'md.bars' }),
    ).toBe(6);
  });

  it('a provider failing on every retry is one warn with its cause and one info once it runs again', async () => {
    const { logger, lines } = recordingLogger();
    const clock = new FakeClock();
    const bus = new RecordingBus();
    const coordinator = new RateCoordinator(clock);
    const publisher = new BatchPublisher(bus.asBus(), {
      batchSize: 1,
      flushIntervalMs: 1000,
      clock,
    });
    const router = new ProviderRouter({
      coordinator,
      publisher,
      clock,
      logger,
      retry: { baseMs: 100, maxMs: 200, random: () => 0.999999 },
    });
    let starts = 0;
    const flaky: Provider = {
      name: 'flaky',
      kinds: ['bar'],
      async *stream() {
        if (++starts <= 4) throw new Error(`upstream refused (${starts})`);
        for (let i = 0; i < 3; i++) yield bar('F', i);
      },
    };
    router.add(flaky, { rate: 1000, burst: 1000 });
    router.start();
    await clock.advance(5000);
    await router.idle();
    expect(bus.published()).toHaveLength(3);
    expect(messages(lines)).toEqual([
      ['warn', 'provider failed; retrying with backoff'],
      ['info', 'provider running again'],
      ['info', 'provider finished'],
    ]);
    expect(lines[0][2]).toMatchObject({ err: 'upstream refused (1)' });
    expect(lines[1][2]).toMatchObject({ failures: 4 });
  });

  it("a bus outage is the bus's to log: the router backs off without a line of its own, and recovers after the publisher", async () => {
    const { logger, lines } = recordingLogger();
    const clock = new FakeClock();
    const bus = new RecordingBus();
    bus.failNext = 4;
    // A publish takes 30 ms: records added meanwhile are buffered without error although Redis is down.
    const slowBus = Object.assign(Object.create(bus), {
      publishBatch: async (...args: Parameters<RecordingBus['publishBatch']>) => {
        await clock.sleep(30);
        return bus.publishBatch(...args);
      },
    }) as RecordingBus;
    const publisher = new BatchPublisher(slowBus.asBus(), {
      batchSize: 3,
      flushIntervalMs: 50,
      clock,
    });
    const router = new ProviderRouter({
      coordinator: new RateCoordinator(clock),
      publisher,
      clock,
      logger,
      retry: { baseMs: 100, maxMs: 200, random: () => 0.999999 },
    });
    router.add(new SyntheticProvider({ symbols: ['X'], seed: 1, startTs: 0, maxBars: 30 }), {
      rate: 20,
      burst: 1,
    });
    const failingSeen: boolean[] = [];
    publisher.start();
    router.start();
    for (let t = 0; t < 4000; t += 10) {
      await clock.advance(10);
      if (failingSeen[failingSeen.length - 1] !== publisher.failing)
        failingSeen.push(publisher.failing);
    }
    await router.idle();
    await publisher.close();
    expect(bus.published().length).toBe(30);
    expect(failingSeen).toEqual([false, true, false]);
    expect(messages(lines)).toEqual([['info', 'provider finished']]);
  });

  it('flushes partial batches on the interval and on close', async () => {
    const { clock, bus, router, publisher } = setup({ batchSize: 100 });
    publisher.start();
    router.add(new SyntheticProvider({ symbols: ['X'], seed: 1, startTs: 0, maxBars: 3 }), {
      rate: 1000,
      burst: 1000,
    });
    router.start();
    await clock.advance(10);
    expect(bus.published()).toHaveLength(0);
    await clock.advance(1000);
    expect(bus.published()).toHaveLength(3);
    await publisher.close();
  });

  it('publishes what is buffered as soon as the provider runs out of budget, not at the flush interval', async () => {
    const { clock, bus, router, publisher } = setup({ batchSize: 100 });
    publisher.start(); // flush interval 1000 ms
    router.add(new CountingProvider('a'), { rate: 1, burst: 3 });
    router.start();
    await clock.advance(10);
    expect(bus.batches.map((b) => b.envelopes.length)).toEqual([3]);
    await router.stop();
    await publisher.close();
  });

  it('records buffered while a publish is under way go together in the next one (group commit)', async () => {
    const { clock, bus, router, publisher } = setup({ batchSize: 100 });
    let release!: () => void;
    bus.gate = new Promise<void>((r) => (release = r));
    const p = new CountingProvider('a');
    router.add(p, { rate: 10, burst: 2 });
    router.start();
    await clock.advance(250); // [0, 1] held at the bus; 2 and 3 arrive meanwhile
    expect(bus.batches).toEqual([]);
    bus.gate = undefined;
    release();
    await clock.advance(100); // 4 arrives, the budget runs out again: 2, 3, 4 leave together
    expect(
      bus.batches.map((b) => b.envelopes.map((e) => (e.payload as { volume: number }).volume)),
    ).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    await router.stop();
    await publisher.close();
  });

  it('routes each record kind to its own stream, with the v1 field set on track v1', async () => {
    const { bus, publisher } = setup({ batchSize: 100, track: 'v1' });
    const v1Option = {
      provider: 'opra',
      symbol: 'AAPL',
      expiry: '2026-12-18',
      option_type: 'C' as const,
      strike: 200,
      ts: 1,
      iv: 0.2,
    };
    await publisher.add('opra', { kind: 'option', key: 'AAPL', data: { ...v1Option, bid: 3 } });
    await publisher.add('wire', {
      kind: 'news',
      key: 'n1',
      data: { provider: 'wire', id: 'n1', published_at: 1, title: 't', summary: 'v2 only' },
    });
    await publisher.add('sec', {
      kind: 'fundamentals',
      key: 'MSFT',
      data: { provider: 'sec', symbol: 'MSFT', asof: 1, eps: 2, currency: 'USD' },
    });
    await publisher.close();
    expect(bus.published('md.options')[0]).toMatchObject({
      key: 'AAPL',
      meta: { schema_id: 'md.OptionSnap' },
    });
    // `bid` is a v2 field: on v1 the snapshot goes out without it.
    expect(bus.published('md.options')[0].payload).toEqual(v1Option);
    expect(bus.published('md.news')[0]).toMatchObject({
      key: 'n1',
      meta: { schema_id: 'md.News' },
      payload: { id: 'n1' },
    });
    expect(bus.published('md.news')[0].payload).not.toHaveProperty('summary');
    expect(bus.published('md.fundamentals')[0]).toMatchObject({
      key: 'MSFT',
      meta: { schema_id: 'md.Fundamentals' },
      payload: { eps: 2 },
    });
    expect(bus.published('md.fundamentals')[0].payload).not.toHaveProperty('currency');
  });

  it('with a gate, runs a provider only while this instance leads it', async () => {
    let leading = false;
    let grant: (() => void) | undefined;
    const gate: ProviderGate = {
      acquire: (_name, signal) =>
        new Promise<boolean>((resolve) => {
          grant = () => {
            leading = true;
            resolve(true);
          };
          signal.addEventListener('abort', () => resolve(false));
        }),
      holds: () => leading,
      releaseAll: async () => void (leading = false),
    };
    const { clock, router, publisher } = setup({ batchSize: 1, gate });
    const p = new CountingProvider('a');
    router.add(p, { rate: 10, burst: 1 });
    router.start();
    await clock.advance(1000);
    expect(p.pulled).toBe(0);
    expect(router.states()[0].status).toBe('standby');
    grant!();
    await clock.advance(1000);
    expect(p.pulled).toBeGreaterThanOrEqual(10);
    // Lease lost: the provider stops at its next record and the router stands by again.
    leading = false;
    await clock.advance(100);
    const pulled = p.pulled;
    await clock.advance(1000);
    expect(p.pulled).toBeLessThanOrEqual(pulled + 1);
    expect(router.states()[0].status).toBe('standby');
    await router.stop();
    await publisher.close();
  });

  it('backoff grows exponentially up to the cap', () => {
    const r = { baseMs: 100, maxMs: 1000, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 10].map((a) => Math.round(backoffMs(a, r)))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffMs(3, { ...r, random: () => 0 })).toBe(200);
  });
});
