import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { gzipSync } from 'zlib';
import { BarV1 } from '@mdp/contracts';
import type {
  BarRecord,
  InvalidRecord,
  MarketRecord,
  Provider,
} from '../../src/providers/provider';
import { recordTime } from '../../src/providers/provider';
import { formatFromName, ReplayProvider } from '../../src/providers/replay-provider';
import { SyntheticProvider } from '../../src/providers/synthetic-provider';
import { FakeClock, waitFor } from '../support/fake-clock';

async function takeAny(
  p: Provider,
  n: number,
  signal = new AbortController().signal,
): Promise<MarketRecord[]> {
  const out: MarketRecord[] = [];
  if (n <= 0) return out;
  for await (const r of p.stream(signal)) {
    out.push(r);
    if (out.length >= n) break;
  }
  return out;
}

const take = async (p: Provider, n: number): Promise<BarRecord[]> =>
  (await takeAny(p, n)) as BarRecord[];

describe('SyntheticProvider', () => {
  const opts = {
    symbols: ['AAPL', 'MSFT', 'SPY'],
    seed: 42,
    startTs: 1_700_000_000,
    interval: '1m',
  };

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await take(new SyntheticProvider(opts), 30);
    const b = await take(new SyntheticProvider(opts), 30);
    const c = await take(new SyntheticProvider({ ...opts, seed: 43 }), 30);
    expect(a).toEqual(b);
    expect(a.map((r) => r.data.close)).not.toEqual(c.map((r) => r.data.close));
  });

  it('emits valid bars round-robin over the symbols, one interval apart, walking from the previous close', async () => {
    const bars = (await take(new SyntheticProvider(opts), 9)).map((r) => r.data);
    expect(bars.map((b) => b.symbol)).toEqual([
      'AAPL',
      'MSFT',
      'SPY',
      'AAPL',
      'MSFT',
      'SPY',
      'AAPL',
      'MSFT',
      'SPY',
    ]);
    expect(bars.filter((b) => b.symbol === 'AAPL').map((b) => b.ts)).toEqual([
      1_700_000_000, 1_700_000_060, 1_700_000_120,
    ]);
    for (const b of bars) expect(BarV1.safeParse(b).success).toBe(true);
    expect(bars[3].open).toBe(bars[0].close);
    expect(bars[0]).toMatchObject({ provider: 'synthetic', interval: '1m' });
    for (const b of bars) expect(b.open).toBeGreaterThan(10);
  });

  it('is a function of (seed, symbol, interval, ts): a restart at another time republishes identical bars', async () => {
    // A pipeline restarted later starts its walk at another time; the bars it sends again for keys
    // already stored must be the same, or the store rewrites history.
    const first = await take(new SyntheticProvider(opts), 300);
    const restarted = await take(
      new SyntheticProvider({ ...opts, startTs: opts.startTs + 50 * 60 }),
      150,
    );
    const byKey = new Map(first.map((r) => [`${r.data.symbol}@${r.data.ts}`, r.data]));
    let overlapping = 0;
    for (const r of restarted) {
      const before = byKey.get(`${r.data.symbol}@${r.data.ts}`);
      if (!before) continue;
      overlapping++;
      expect(r.data).toEqual(before);
    }
    expect(overlapping).toBe(150);
    // Fewer symbols (another round-robin order) does not change a symbol's bars either.
    const alone = await take(new SyntheticProvider({ ...opts, symbols: ['MSFT'] }), 20);
    for (const r of alone) expect(r.data).toEqual(byKey.get(`MSFT@${r.data.ts}`));
    // Another interval is another series.
    const hourly = await take(
      new SyntheticProvider({ ...opts, interval: '1h', startTs: 1_699_999_200 }),
      3,
    );
    expect(hourly[0].data.close).not.toBe(byKey.get(`AAPL@${hourly[0].data.ts}`)?.close);
  });

  it('still walks: bar-to-bar returns are small, and prices wander over a long run', async () => {
    const bars = (await take(new SyntheticProvider({ ...opts, symbols: ['AAPL'] }), 20_000)).map(
      (r) => r.data,
    );
    const returns = bars.map((b) => Math.log(b.close / b.open));
    const sd = Math.sqrt(returns.reduce((a, r) => a + r * r, 0) / returns.length);
    expect(sd).toBeGreaterThan(0.0005);
    expect(sd).toBeLessThan(0.01);
    const closes = bars.map((b) => b.close);
    expect(Math.max(...closes) / Math.min(...closes)).toBeGreaterThan(1.05);
  });

  it('continues (does not repeat) when the stream is restarted, and honours maxBars', async () => {
    const p = new SyntheticProvider({ ...opts, maxBars: 5 });
    const first = await take(p, 2);
    const rest = await take(p, 10);
    expect([...first, ...rest]).toEqual(await take(new SyntheticProvider(opts), 5));
  });

  it('rejects an empty symbol set and bad intervals', () => {
    expect(() => new SyntheticProvider({ ...opts, symbols: [] })).toThrow(/at least one symbol/);
    expect(() => new SyntheticProvider({ ...opts, interval: '10x' })).toThrow(/interval/);
  });
});

describe('ReplayProvider', () => {
  let dir: string;
  const bars = [
    {
      provider: 'ibkr',
      symbol: 'AAPL',
      interval: '1m',
      ts: 1_700_000_000,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 10,
    },
    {
      provider: 'ibkr',
      symbol: 'MSFT',
      interval: '1m',
      ts: 1_700_000_000,
      open: 3,
      high: 4,
      low: 2.5,
      close: 3.5,
      volume: 20,
      trades: 7,
      vwap: 3.2,
    },
    {
      provider: 'ibkr',
      symbol: 'AAPL',
      interval: '1m',
      ts: 1_700_000_060,
      open: 1.5,
      high: 2,
      low: 1,
      close: 1.8,
      volume: 30,
    },
  ];
  const ndjson = bars.map((b) => JSON.stringify(b)).join('\n') + '\n';
  const csv =
    'provider,symbol,interval,ts,open,high,low,close,volume,trades,vwap\n' +
    bars
      .map((b) =>
        [
          b.provider,
          b.symbol,
          b.interval,
          b.ts,
          b.open,
          b.high,
          b.low,
          b.close,
          b.volume,
          b.trades ?? '',
          b.vwap ?? '',
        ].join(','),
      )
      .join('\n');

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'replay-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string | Buffer) => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  it.each([
    ['bars.ndjson', () => ndjson],
    ['bars.jsonl.gz', () => gzipSync(ndjson)],
    ['bars.csv', () => csv],
    ['bars.csv.gz', () => gzipSync(csv)],
  ])('replays %s', async (name, content) => {
    const p = new ReplayProvider({ file: file(name, content()) });
    const out = await take(p, 10);
    expect(out.map((r) => r.data)).toEqual(bars);
    expect(out.map((r) => r.key)).toEqual(['AAPL', 'MSFT', 'AAPL']);
  });

  it('detects gzip from the content even without a .gz suffix', async () => {
    const out = await take(
      new ReplayProvider({ file: file('sneaky.ndjson', gzipSync(ndjson)) }),
      10,
    );
    expect(out).toHaveLength(3);
  });

  it('reports invalid lines with file:line and keeps going', async () => {
    const invalid: InvalidRecord[] = [];
    const content = [
      JSON.stringify(bars[0]),
      '{not json',
      JSON.stringify({ ...bars[1], high: 0 }),
      '',
      JSON.stringify(bars[2]),
    ].join('\n');
    const out = await take(
      new ReplayProvider({
        file: file('mixed.ndjson', content),
        onInvalid: (i) => invalid.push(i),
      }),
      10,
    );
    expect(out.map((r) => r.data)).toEqual([bars[0], bars[2]]);
    expect(invalid).toEqual([
      {
        provider: 'replay',
        location: 'mixed.ndjson:2',
        reason: expect.stringMatching(/^not JSON/),
      },
      {
        provider: 'replay',
        location: 'mixed.ndjson:3',
        reason: expect.stringMatching(/high: must be >= max\(open, close\)/),
      },
    ]);
  });

  it('reports CSV rows with missing or non-numeric cells', async () => {
    const invalid: InvalidRecord[] = [];
    const content =
      'symbol,interval,ts,open,high,low,close,volume\nAAPL,1m,1700000000,1,2,0.5,1.5,10\nAAPL,1m,oops,1,2,0.5,1.5,10\nAAPL,1m\n';
    const out = await take(
      new ReplayProvider({
        name: 'csvfeed',
        file: file('bad.csv', content),
        onInvalid: (i) => invalid.push(i),
      }),
      10,
    );
    // The one good row is the first bar, under the provider's name (the file has no provider column).
    expect(out.map((r) => r.data)).toEqual([{ ...bars[0], provider: 'csvfeed' }]);
    expect(invalid.map((i) => i.location)).toEqual(['bad.csv:3', 'bad.csv:4']);
    expect(invalid[0].reason).toMatch(/ts/);
  });

  it("paces by the bars' own timestamps at the chosen speed", async () => {
    const clock = new FakeClock();
    const p = new ReplayProvider({ file: file('paced.ndjson', ndjson), speed: 2, clock });
    const seen: number[] = [];
    const run = (async () => {
      for await (const r of p.stream(new AbortController().signal))
        seen.push(recordTime(r.kind, r.data));
    })();
    // Same timestamp: no wait between the first two; then it sleeps on the clock before the third.
    await waitFor(
      () => seen.length === 2 && clock.pendingTimers === 1,
      10_000,
      'two bars and a pending sleep',
    );
    await clock.advance(29_000);
    expect(seen).toHaveLength(2); // 60 s of market time at speed 2 = 30 s
    await clock.advance(1_000);
    await run;
    expect(seen).toHaveLength(3);
  });

  it('resumes after the last emitted record when restarted, and loops when asked', async () => {
    const p = new ReplayProvider({ file: file('resume.ndjson', ndjson) });
    const first = await take(p, 1);
    const rest = await take(p, 10);
    expect([...first, ...rest].map((r) => r.data)).toEqual(bars);
    const looping = new ReplayProvider({ file: file('loop.ndjson', ndjson), loop: true });
    expect((await take(looping, 7)).map((r) => r.data.close)).toEqual([
      1.5, 3.5, 1.8, 1.5, 3.5, 1.8, 1.5,
    ]);
  });

  it('replays the other record kinds: option snapshots, news and fundamentals', async () => {
    const options = file(
      'options.csv',
      'symbol,expiry,option_type,strike,ts,iv,delta,bid\nAAPL,2026-12-18,C,200,2026-11-20T15:00:00Z,0.25,0.5,3.1\nAAPL,2026-12-18,X,200,1700000000,,,\n',
    );
    const invalid: InvalidRecord[] = [];
    const opt = await takeAny(
      new ReplayProvider({
        name: 'opra',
        file: options,
        kind: 'option',
        onInvalid: (i) => invalid.push(i),
      }),
      10,
    );
    expect(opt).toEqual([
      {
        kind: 'option',
        key: 'AAPL',
        data: {
          provider: 'opra',
          symbol: 'AAPL',
          expiry: '2026-12-18',
          option_type: 'C',
          strike: 200,
          ts: Date.parse('2026-11-20T15:00:00Z') / 1000,
          iv: 0.25,
          delta: 0.5,
          bid: 3.1,
        },
      },
    ]);
    expect(invalid).toEqual([
      expect.objectContaining({
        location: 'options.csv:3',
        reason: expect.stringMatching(/option_type/),
      }),
    ]);

    const newsFile = file(
      'news.ndjson',
      [
        JSON.stringify({ id: 'n1', published_at: 1_700_000_000, title: 'Rates unchanged' }),
        JSON.stringify({
          id: 'n2',
          published_at: 1_700_000_100,
          title: 'AAPL beats',
          symbol: 'AAPL',
          symbols: ['AAPL', 'MSFT'],
        }),
      ].join('\n'),
    );
    const news = await takeAny(
      new ReplayProvider({ name: 'wire', file: newsFile, kind: 'news', speed: 1000 }),
      10,
    );
    expect(news.map((r) => [r.kind, r.key])).toEqual([
      ['news', 'n1'],
      ['news', 'AAPL'],
    ]);

    const fundamentals = file(
      'fund.csv',
      'symbol,asof,total_assets,eps,currency\nMSFT,2026-06-30,512000000000,2.95,USD\n',
    );
    const fund = await takeAny(
      new ReplayProvider({ file: fundamentals, kind: 'fundamentals' }),
      10,
    );
    expect(fund).toEqual([
      {
        kind: 'fundamentals',
        key: 'MSFT',
        data: {
          provider: 'replay',
          symbol: 'MSFT',
          asof: Date.parse('2026-06-30') / 1000,
          total_assets: 512e9,
          eps: 2.95,
          currency: 'USD',
        },
      },
    ]);
  });

  it('needs a recognisable format and a sane speed', () => {
    expect(formatFromName('x.CSV.gz')).toBe('csv');
    expect(formatFromName('x.jsonl')).toBe('ndjson');
    expect(() => formatFromName('x.parquet')).toThrow(/cannot tell the format/);
    expect(() => new ReplayProvider({ file: 'x.csv', speed: 0 })).toThrow(/speed/);
    expect(() => new ReplayProvider({ file: 'x.csv', kind: 'trades' as never })).toThrow(
      /unknown record kind "trades"/,
    );
  });
});
