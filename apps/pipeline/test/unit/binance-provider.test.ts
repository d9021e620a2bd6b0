import type { AddressInfo } from 'net';
import { WebSocket, WebSocketServer } from 'ws';
import { BinanceKlineProvider } from '../../src/providers/binance-kline-provider';
import type { InvalidRecord, MarketRecord } from '../../src/providers/provider';
import { waitFor } from '../support/fake-clock';

/** A kline event exactly as Binance's combined stream sends it. */
function kline(
  symbol: string,
  openTimeMs: number,
  closed: boolean,
  o = '100.0',
  h = '101.5',
  l = '99.5',
  c = '101.0',
  v = '10.0',
  q = '1005.0',
) {
  return JSON.stringify({
    stream: `${symbol.toLowerCase()}@kline_1m`,
    data: {
      e: 'kline',
      E: openTimeMs + 59_000,
      s: symbol,
      k: {
        t: openTimeMs,
        T: openTimeMs + 59_999,
        s: symbol,
        i: '1m',
        f: 100,
        L: 200,
        o,
        c,
        h,
        l,
        v,
        n: 42,
        x: closed,
        q,
        V: '5.0',
        Q: '502.5',
        B: '0',
      },
    },
  });
}

describe('BinanceKlineProvider against a local fixture server', () => {
  let server: WebSocketServer;
  let baseUrl: string;
  let connections: Array<{ url: string; socket: WebSocket }>;

  beforeEach(async () => {
    connections = [];
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => server.once('listening', () => r()));
    baseUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket, req) => connections.push({ url: req.url ?? '', socket }));
  });

  afterEach(async () => {
    for (const c of connections) c.socket.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('subscribes to the combined kline stream and turns closed klines into bars', async () => {
    const invalid: InvalidRecord[] = [];
    const p = new BinanceKlineProvider({
      baseUrl,
      symbols: ['BTCUSDT', 'ethusdt'],
      interval: '1m',
      onInvalid: (i) => invalid.push(i),
    });
    const ac = new AbortController();
    const got: MarketRecord[] = [];
    const run = (async () => {
      for await (const r of p.stream(ac.signal)) got.push(r);
    })();
    await waitFor(() => connections.length === 1, 10_000, 'connection');
    expect(connections[0].url).toBe('/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m');
    const ws = connections[0].socket;
    ws.send(JSON.stringify({ result: null, id: 1 }));
    ws.send(kline('BTCUSDT', 1_700_000_000_000, false)); // still forming: not a bar
    ws.send(kline('BTCUSDT', 1_700_000_000_000, true));
    ws.send('{oops');
    ws.send(kline('ETHUSDT', 1_700_000_000_000, true, '10', '9', '8', '9.5')); // high below open: invalid
    ws.send(kline('ETHUSDT', 1_700_000_060_000, true, '10', '11', '9', '10.5', '0', '0'));
    await waitFor(
      () => got.length === 2 && invalid.length === 2,
      10_000,
      'two bars and two invalid messages',
    );
    ac.abort();
    await run;
    expect(got.map((r) => r.data)).toEqual([
      {
        provider: 'binance',
        symbol: 'BTCUSDT',
        interval: '1m',
        ts: 1_700_000_000,
        open: 100,
        high: 101.5,
        low: 99.5,
        close: 101,
        volume: 10,
        trades: 42,
        vwap: 100.5,
      },
      {
        provider: 'binance',
        symbol: 'ETHUSDT',
        interval: '1m',
        ts: 1_700_000_060,
        open: 10,
        high: 11,
        low: 9,
        close: 10.5,
        volume: 0,
        trades: 42,
      },
    ]);
    expect(got[0].key).toBe('BTCUSDT');
    expect(invalid.map((i) => i.reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      expect.stringMatching(/ETHUSDT kline .*high/),
    ]);
  });

  it('ends with an error when the server drops the connection (the router then reconnects)', async () => {
    const p = new BinanceKlineProvider({ baseUrl, symbols: ['btcusdt'], interval: '1m' });
    const got: MarketRecord[] = [];
    const run = (async () => {
      for await (const r of p.stream(new AbortController().signal)) got.push(r);
    })();
    await waitFor(() => connections.length === 1, 10_000, 'connection');
    connections[0].socket.send(kline('BTCUSDT', 1_700_000_000_000, true));
    await waitFor(() => got.length === 1, 10_000, 'first bar');
    connections[0].socket.close(1001, 'going away');
    await expect(run).rejects.toThrow(/connection closed \(1001 going away\)/);
  });

  it('fails when nothing listens at the address', async () => {
    const p = new BinanceKlineProvider({
      baseUrl: 'ws://127.0.0.1:1',
      symbols: ['btcusdt'],
      interval: '1m',
    });
    const it = p.stream(new AbortController().signal)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('stops reading the socket while the router is not pulling, without dropping bars', async () => {
    const pause = jest.spyOn(WebSocket.prototype, 'pause');
    const resume = jest.spyOn(WebSocket.prototype, 'resume');
    const p = new BinanceKlineProvider({
      baseUrl,
      symbols: ['btcusdt'],
      interval: '1m',
      maxBuffered: 4,
    });
    const it = p.stream(new AbortController().signal)[Symbol.asyncIterator]();
    const first = it.next();
    await waitFor(() => connections.length === 1, 10_000, 'connection');
    for (let i = 0; i < 20; i++)
      connections[0].socket.send(kline('BTCUSDT', 1_700_000_000_000 + i * 60_000, true));
    expect((await first).value.data.ts).toBe(1_700_000_000);
    const seen = [1_700_000_000];
    for (let i = 1; i < 20; i++) seen.push((await it.next()).value.data.ts);
    expect(seen).toEqual([...Array(20).keys()].map((i) => 1_700_000_000 + i * 60));
    expect(pause).toHaveBeenCalled();
    expect(resume).toHaveBeenCalled();
    pause.mockRestore();
    resume.mockRestore();
    await it.return?.();
  });
});
