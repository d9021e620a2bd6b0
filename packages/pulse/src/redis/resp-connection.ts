/**
 * A Redis connection for the hot paths, written over a plain socket: a consumer's XREADGROUP (with
 * the acks pipelined in front of it; a blocking read holds its connection, so every consumer has
 * one) and a publisher's XADD batches. Replies are decoded straight into strings (`resp.ts`)
 * instead of going through a general client's reply tree, and a batch of commands goes out as one
 * write: a general client's per-command objects outlive a young-generation collection and are
 * copied and promoted, which on a small VM made each scavenge take 10-25 ms.
 *
 * Lifecycle: connects (and authenticates, selects the database, sets the client name) on first use
 * and again on the first use after the connection dropped; a drop fails the commands in flight, and
 * the callers retry (the consumer loop with backoff, the publisher with its kept batch), so nothing
 * here retries on its own. `close()` is final.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  decodeReply,
  encodeCommand,
  RedisReplyError,
  ReplyScanner,
  StreamReplyDecoder,
} from './resp';
import type { StreamBatch } from '../core/transport';

export interface RespConnectionOptions {
  /** redis://[user:password@]host[:port][/db] or rediss:// for TLS. */
  url: string;
  /** CLIENT SETNAME (spaces are not allowed in client names). */
  name: string;
  connectTimeoutMs?: number;
  /**
   * How long past the read's own BLOCK time a reply may take before the connection is taken for dead
   * and dropped (a peer that vanished without a reset would otherwise hold the read forever).
   */
  replyTimeoutMs?: number;
  /**
   * Field values longer than this are never buffered: their bytes are dropped as they arrive and the
   * entry comes back with `tooLarge` (default: no limit).
   */
  maxEntryBytes?: number;
}

interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
}

export function parseRedisUrl(url: string): Endpoint {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`not a redis:// or rediss:// URL: ${url.replace(/\/\/[^@]*@/, '//***@')}`);
  const db =
    u.pathname.length > 1 ? Number(u.pathname.slice(1)) : Number(u.searchParams.get('db') ?? 0);
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`bad database number in Redis URL: ${u.pathname}`);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    tls: u.protocol === 'rediss:',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
  };
}

type Decode = 'reply' | 'streams';

const INITIAL_BUFFER = 64 * 1024;
/** Replies of a few thousand entries fit; anything larger is given back once consumed. */
const MAX_IDLE_BUFFER = 8 * 1024 * 1024;

interface Pending {
  decode: Decode;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class RespConnection {
  private readonly endpoint: Endpoint;
  private socket?: net.Socket;
  private ready?: Promise<void>;
  private closed = false;
  private readonly pending: Pending[] = [];
  private readonly scanner: ReplyScanner;
  private readonly streams = new StreamReplyDecoder();
  /** Bytes received and not yet consumed: `acc[head, len)`. */
  private acc = Buffer.allocUnsafe(INITIAL_BUFFER);
  private head = 0;
  private len = 0;

  constructor(private readonly opts: RespConnectionOptions) {
    this.endpoint = parseRedisUrl(opts.url);
    this.scanner = new ReplyScanner(opts.maxEntryBytes ?? Infinity);
  }

  /**
   * Sends `acks` (XACK commands) and one XREADGROUP in a single write; resolves with the read's
   * batches (empty when the block timed out). Any error reply rejects the whole call, the acks'
   * first.
   */
  async read(
    acks: Array<Array<string | number>>,
    xreadgroup: Array<string | number>,
    blockMs = 0,
  ): Promise<StreamBatch[]> {
    const decodes: Decode[] = acks.map(() => 'reply');
    decodes.push('streams');
    const results = await this.send([...acks, xreadgroup], decodes, blockMs);
    const batches = results.pop()!;
    for (const r of results) valueOf(r);
    return valueOf(batches) as StreamBatch[];
  }

  /**
   * Sends `commands` in one write and resolves with their replies in order. An error reply comes
   * back as a `RedisReplyError` in its place, so the caller knows which command failed.
   */
  async call(commands: ReadonlyArray<ReadonlyArray<string | number>>): Promise<unknown[]> {
    const results = await this.send(
      commands,
      commands.map(() => 'reply'),
      0,
    );
    return results.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
  }

  /**
   * Connects if needed, writes `commands` at once, and settles with one reply per command, decoded
   * as `decodes` says; drops the connection when no reply comes in time. Reads queue on a
   * connection: each blocking read ahead of this one may hold it for its full block time first, so
   * those count into the limit.
   */
  private async send(
    commands: ReadonlyArray<ReadonlyArray<string | number>>,
    decodes: Decode[],
    blockMs: number,
  ): Promise<PromiseSettledResult<unknown>[]> {
    await this.connect();
    const socket = this.socket;
    if (!socket) throw new Error('Redis connection closed');
    let reads = 0;
    for (const p of this.pending) if (p.decode === 'streams') reads++;
    const replies = Promise.allSettled(decodes.map((d) => this.expect(d)));
    const limit = blockMs * (reads + 1) + (this.opts.replyTimeoutMs ?? 10_000);
    const timer = setTimeout(
      () => this.drop(new Error(`no reply from Redis within ${limit} ms; reconnecting`), socket),
      limit,
    );
    try {
      socket.write(
        commands.length === 1 ? encodeCommand(commands[0]) : commands.map(encodeCommand).join(''),
      );
      return await replies;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether replies are still awaited. */
  get busy(): boolean {
    return this.pending.length > 0;
  }

  close(): void {
    this.closed = true;
    this.drop(new Error('Redis connection closed by its owner'));
  }

  private expect(decode: Decode): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ decode, resolve, reject }));
  }

  private connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Redis connection closed by its owner'));
    if (!this.ready) {
      this.ready = this.open();
      this.ready.catch(() => undefined);
    }
    return this.ready;
  }

  private open(): Promise<void> {
    const { host, port } = this.endpoint;
    const socket = this.endpoint.tls
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.drop(err, socket));
    socket.on('close', () => this.drop(new Error('Redis connection closed'), socket));

    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new Error(`connecting to Redis at ${host}:${port} timed out`);
        this.drop(err, socket);
      }, this.opts.connectTimeoutMs ?? 10_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('close', () => fail(new Error(`could not connect to Redis at ${host}:${port}`)));
      socket.once(this.endpoint.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        this.handshake().then(resolve, (err: Error) => {
          this.drop(err, socket);
          reject(err);
        });
      });
    });
  }

  /** AUTH, SELECT and CLIENT SETNAME in one write. */
  private async handshake(): Promise<void> {
    const { username, password, db } = this.endpoint;
    const commands: Array<Array<string | number>> = [];
    if (password !== undefined)
      commands.push(username ? ['AUTH', username, password] : ['AUTH', password]);
    if (db) commands.push(['SELECT', db]);
    commands.push(['CLIENT', 'SETNAME', this.opts.name.replace(/\s/g, '_')]);
    const replies = Promise.all(commands.map(() => this.expect('reply')));
    this.socket!.write(commands.map(encodeCommand).join(''));
    for (const value of await replies) if (value instanceof Error) throw value;
  }

  private receive(chunk: Buffer): void {
    this.append(this.scanner.consumeSkipped(chunk));
    while (this.pending.length && this.head < this.len) {
      let scanned: { end: number; len: number };
      try {
        scanned = this.scanner.scanAndSkip(this.acc, this.head, this.len);
      } catch (err) {
        // Not RESP2: nothing after this point can be framed, so every call in flight fails loudly.
        this.drop(err as Error);
        return;
      }
      this.len = scanned.len;
      const end = scanned.end;
      if (end < 0) return;
      const next = this.pending.shift()!;
      try {
        if (next.decode === 'streams') next.resolve(this.streams.decode(this.acc, this.head));
        else next.resolve(decodeReply(this.acc, this.head)[0]);
      } catch (err) {
        next.reject(err instanceof Error ? err : new Error(String(err)));
      }
      this.head = end;
    }
    if (this.head === this.len) {
      this.head = this.len = 0;
      // One unusually large reply must not pin its buffer for the connection's lifetime.
      if (this.acc.length > MAX_IDLE_BUFFER) this.acc = Buffer.allocUnsafe(INITIAL_BUFFER);
    }
  }

  private append(chunk: Buffer): void {
    if (this.len + chunk.length > this.acc.length) {
      if (this.head > 0) {
        this.acc.copy(this.acc, 0, this.head, this.len);
        this.scanner.shift(this.head);
        this.len -= this.head;
        this.head = 0;
      }
      if (this.len + chunk.length > this.acc.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.acc.length * 2, this.len + chunk.length));
        this.acc.copy(bigger, 0, 0, this.len);
        this.acc = bigger;
      }
    }
    chunk.copy(this.acc, this.len);
    this.len += chunk.length;
  }

  /** Fails everything in flight; the next call connects again (unless closed). */
  private drop(err: Error, socket = this.socket): void {
    if (socket !== this.socket) return; // an old socket's late events
    this.socket = undefined;
    this.ready = undefined;
    socket?.destroy();
    this.head = this.len = 0;
    this.scanner.reset();
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}

/** A settled reply's value; a failed call or an error reply throws. */
function valueOf(result: PromiseSettledResult<unknown>): unknown {
  if (result.status === 'rejected') throw result.reason;
  if (result.value instanceof Error) throw result.value;
  return result.value;
}

export { RedisReplyError };
