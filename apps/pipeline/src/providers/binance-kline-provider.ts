import WebSocket from 'ws';
import { BarV2, decode } from '@mdp/contracts';
import type { BarRecord, InvalidRecordSink, Provider, RecordKind } from './provider';

export interface BinanceKlineProviderOptions {
  name?: string;
  /** e.g. `wss://stream.binance.com:9443` (or a local fixture server). */
  baseUrl: string;
  /** Exchange symbols, e.g. `btcusdt`. */
  symbols: string[];
  /** Binance kline interval: `1s`, `1m`, `5m`, `1h`, `1d`, ... */
  interval: string;
  /** Closed bars held while the router is not pulling (scale 0); beyond this the socket stops reading. */
  maxBuffered?: number;
  onInvalid?: InvalidRecordSink;
}

/** The parts of a Binance kline event the provider uses (https://developers.binance.com, "Kline/Candlestick Streams"). */
interface KlineEvent {
  e: 'kline';
  s: string;
  k: {
    t: number;
    s: string;
    i: string;
    o: string;
    c: string;
    h: string;
    l: string;
    v: string;
    n: number;
    x: boolean;
    q: string;
  };
}

/**
 * Binance-style WebSocket kline feed (combined stream `/stream?streams=<sym>@kline_<i>/...`). Only closed
 * klines (`k.x`) become bars. The socket pushes at the exchange's pace, so bars are buffered until the
 * router pulls them; past `maxBuffered` the socket is paused (TCP backpressure) rather than dropping.
 * A closed or failed connection ends the stream with an error, and the router reconnects with backoff.
 */
export class BinanceKlineProvider implements Provider {
  readonly name: string;
  readonly kinds: readonly RecordKind[] = ['bar'];

  constructor(private readonly opts: BinanceKlineProviderOptions) {
    if (opts.symbols.length === 0)
      throw new RangeError('binance provider needs at least one symbol');
    this.name = opts.name ?? 'binance';
  }

  get url(): string {
    const streams = this.opts.symbols
      .map((s) => `${s.toLowerCase()}@kline_${this.opts.interval}`)
      .join('/');
    return `${this.opts.baseUrl.replace(/\/+$/, '')}/stream?streams=${streams}`;
  }

  async *stream(signal: AbortSignal): AsyncIterable<BarRecord> {
    const max = this.opts.maxBuffered ?? 1000;
    const queue: BarRecord[] = [];
    let failure: Error | undefined;
    let ended = false;
    let paused = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };

    const ws = new WebSocket(this.url);
    ws.on('message', (data) => {
      const bar = this.parse(String(data));
      if (!bar) return;
      queue.push({ kind: 'bar', key: bar.symbol, data: bar });
      if (queue.length >= max && !paused) {
        paused = true;
        ws.pause();
      }
      notify();
    });
    ws.on('error', (err) => {
      failure ??= err;
      notify();
    });
    ws.on('close', (code, reason) => {
      if (!ended)
        failure ??= new Error(
          `${this.name}: connection closed (${code}${reason.length ? ` ${reason}` : ''})`,
        );
      notify();
    });
    const onAbort = () => {
      ended = true;
      notify();
    };
    signal.addEventListener('abort', onAbort, { once: true });

    try {
      for (;;) {
        if (signal.aborted) return;
        const next = queue.shift();
        if (next) {
          if (paused && queue.length <= max / 2) {
            paused = false;
            ws.resume();
          }
          yield next;
          continue;
        }
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      ended = true;
      signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners('message');
      ws.on('error', () => undefined); // a late error after we hung up is not news
      ws.terminate();
    }
  }

  private parse(text: string): BarV2 | undefined {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return this.invalid(`not JSON: ${(err as Error).message}`);
    }
    // Combined streams wrap each event as { stream, data }; raw streams send the event itself.
    const event = (
      msg && typeof msg === 'object' && 'data' in msg ? (msg as { data: unknown }).data : msg
    ) as Partial<KlineEvent> | null;
    if (event && typeof event === 'object' && 'result' in event) return undefined; // reply to a (un)subscribe request
    if (!event || event.e !== 'kline' || !event.k)
      return this.invalid(`not a kline event: ${text.slice(0, 120)}`);
    const k = event.k;
    if (!k.x) return undefined; // still forming: only closed klines are bars
    const volume = Number(k.v);
    const quote = Number(k.q);
    const decoded = decode(BarV2, {
      provider: this.name,
      symbol: k.s,
      interval: k.i,
      ts: k.t / 1000,
      open: Number(k.o),
      high: Number(k.h),
      low: Number(k.l),
      close: Number(k.c),
      volume,
      trades: k.n,
      ...(volume > 0 && Number.isFinite(quote) ? { vwap: quote / volume } : {}),
    });
    return decoded.ok
      ? decoded.value
      : this.invalid(`${k.s ?? '?'} kline ${k.t}: ${decoded.error.message}`);
  }

  private invalid(reason: string): undefined {
    this.opts.onInvalid?.({ provider: this.name, location: this.opts.baseUrl, reason });
    return undefined;
  }
}
