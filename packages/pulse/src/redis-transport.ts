/**
 * Redis Streams transport. One ioredis command connection for publishing, acks, dead-lettering,
 * reclaims and stats; every reader gets its own `ReaderConnection` (named with CLIENT SETNAME)
 * because XREADGROUP BLOCK holds its connection, and because that connection decodes the read's
 * reply straight into strings. Everything on a hot path is one pipelined round trip per batch.
 */
import Redis from 'ioredis';
import type {
  AckMap,
  ClaimResult,
  DeadLetterMove,
  GroupStats,
  RawEntry,
  ReplayMove,
  StreamBatch,
  TrimSpec,
  Transport,
  TransportReader,
} from './transport';
import { ReaderConnection } from './reader-connection';
import type { Fields } from './wire';

type XEntry = [id: string, fields: string[] | null];
type PipelineResult = Array<[Error | null, unknown]> | null;

const DLQ_MAXLEN = 100_000;
/** How long a consumer-side command waits for a connection that is not up before it fails. */
const READY_WAIT_MS = 1000;

function trimArgs(trim: TrimSpec | undefined): (string | number)[] {
  if (trim?.retentionMs !== undefined) return ['MINID', '~', `${Date.now() - trim.retentionMs}-0`];
  if (trim?.maxLen !== undefined) return ['MAXLEN', '~', trim.maxLen];
  return [];
}

function check(results: PipelineResult): unknown[] {
  if (!results) throw new Error('pipeline aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function appendAcks(pipe: ReturnType<Redis['pipeline']>, group: string, acks: AckMap): void {
  for (const [stream, ids] of acks) if (ids.length) pipe.xack(stream, group, ...ids);
}

/** Delivery counts of `entries` (now owned by `consumer`) from XPENDING, one round trip. */
async function withDeliveryCounts(
  conn: Redis,
  stream: string,
  group: string,
  consumer: string,
  entries: XEntry[],
): Promise<RawEntry[]> {
  if (!entries.length) return [];
  const first = entries[0][0];
  const last = entries[entries.length - 1][0];
  const rows = (await conn.xpending(
    stream,
    group,
    first,
    last,
    entries.length * 2 + 1000,
    consumer,
  )) as Array<[string, string, number, number]>;
  const counts = new Map(rows.map((r) => [r[0], Number(r[3])]));
  return entries.map(([id, fields]) => ({
    id,
    fields: fields && fields.length ? fields : null,
    deliveryCount: counts.get(id) ?? 1,
  }));
}

class RedisReader implements TransportReader {
  constructor(
    private readonly conn: ReaderConnection,
    /** The transport's command connection: reads that never block run there. */
    private readonly commands: Redis,
    private readonly ready: () => Promise<void>,
    private readonly onClose: () => void,
  ) {}

  readNew(
    streams: string[],
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    acks: AckMap,
  ): Promise<StreamBatch[]> {
    const xacks: Array<Array<string | number>> = [];
    for (const [stream, ids] of acks) if (ids.length) xacks.push(['XACK', stream, group, ...ids]);
    const block = Math.max(1, Math.round(blockMs));
    return this.conn.read(
      xacks,
      [
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        block,
        'STREAMS',
        ...streams,
        ...streams.map(() => '>'),
      ],
      block,
    );
  }

  async readOwnPending(
    stream: string,
    group: string,
    consumer: string,
    afterId: string,
    count: number,
  ): Promise<RawEntry[]> {
    await this.ready();
    const reply = (await this.commands.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      'STREAMS',
      stream,
      afterId,
    )) as Array<[string, XEntry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    return withDeliveryCounts(this.commands, stream, group, consumer, entries);
  }

  async claimIdle(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    cursor: string,
    count: number,
    exclude: ReadonlySet<string>,
  ): Promise<ClaimResult> {
    await this.ready();
    const minIdle = Math.max(0, Math.round(minIdleMs));
    // XPENDING first, XCLAIM only the chosen ids: XAUTOCLAIM would also take (and count one more
    // delivery for) entries this consumer holds or has settled but not yet acked.
    const page = Math.max(count, 100);
    const rows = (await this.commands.xpending(
      stream,
      group,
      'IDLE',
      minIdle,
      cursor === '0-0' || cursor === '0' ? '-' : `(${cursor}`,
      '+',
      page,
    )) as Array<[string, string, number, number]>;
    let next = rows.length === page ? rows[rows.length - 1][0] : '0-0';
    const chosen: Array<[string, string, number, number]> = [];
    for (const row of rows) {
      if (exclude.has(row[0])) continue;
      chosen.push(row);
      if (chosen.length === count) {
        if (row !== rows[rows.length - 1]) next = row[0];
        break;
      }
    }
    if (!chosen.length) return { cursor: next, entries: [], deleted: [] };
    const claimed = (await this.commands.xclaim(
      stream,
      group,
      consumer,
      minIdle,
      ...chosen.map((r) => r[0]),
    )) as XEntry[];
    const counts = new Map(chosen.map((r) => [r[0], Number(r[3]) + 1]));
    const entries: RawEntry[] = [];
    const deleted: string[] = [];
    // Entries deleted since delivery: Redis 7 drops them from the pending list and leaves them out;
    // older versions return [id, null]. An id missing otherwise was claimed by someone else meanwhile.
    for (const [id, fields] of claimed) {
      if (!fields || !fields.length) deleted.push(id);
      else entries.push({ id, fields, deliveryCount: counts.get(id) ?? 1 });
    }
    return { cursor: next, entries, deleted };
  }

  close(): void {
    this.conn.close();
    this.onClose();
  }
}

export interface RedisTransportOptions {
  url: string;
  /** CLIENT SETNAME prefix for this bus's connections. */
  clientName?: string;
  /** Field values over this are dropped unread by the reader connections. */
  maxEntryBytes?: number;
}

export class RedisTransport implements Transport {
  readonly redis: Redis;
  private readonly readers = new Set<ReaderConnection>();
  private lastError?: string;

  constructor(private readonly opts: RedisTransportOptions) {
    // A command caught by a dropped connection fails after one reconnect attempt instead of twenty:
    // every caller retries on its own (consumer loop, publisher's kept batch), and a consumer being
    // closed must not wait out an outage.
    this.redis = new Redis(opts.url, {
      connectionName: opts.clientName ?? 'pulse',
      maxRetriesPerRequest: 1,
    });
    // Errors surface on the commands (the last one names the cause while Redis is away); an
    // unhandled 'error' event would crash the process.
    this.redis.on('error', (err: Error) => (this.lastError = err.message));
    this.redis.on('ready', () => (this.lastError = undefined));
  }

  /**
   * Waits (briefly) for the command connection to be up. Consumer-side commands fail fast while Redis
   * is away instead of sitting in ioredis's offline queue: the consumer loop then backs off and retries,
   * and can be closed meanwhile. Publishing does queue (the publisher keeps its batch either way).
   */
  private ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        const cause = this.lastError ? `: ${this.lastError}` : '';
        reject(new Error(`Redis not connected (${this.redis.status})${cause}`));
      }, READY_WAIT_MS);
      this.redis.once('ready', onReady);
    });
  }

  async add(stream: string, entries: Fields[], trim?: TrimSpec): Promise<string[]> {
    if (!entries.length) return [];
    const targs = trimArgs(trim);
    if (entries.length === 1)
      return [(await this.redis.xadd(stream, ...targs, '*', ...entries[0])) as string];
    const pipe = this.redis.pipeline();
    for (const fields of entries) pipe.xadd(stream, ...targs, '*', ...fields);
    return check((await pipe.exec()) as PipelineResult) as string[];
  }

  async ensureGroup(stream: string, group: string, startFrom: '0' | '$'): Promise<void> {
    await this.ready();
    try {
      await this.redis.xgroup('CREATE', stream, group, startFrom, 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  reader(name: string): TransportReader {
    const conn = new ReaderConnection({
      url: this.opts.url,
      name,
      maxEntryBytes: this.opts.maxEntryBytes,
    });
    this.readers.add(conn);
    return new RedisReader(
      conn,
      this.redis,
      () => this.ready(),
      () => this.readers.delete(conn),
    );
  }

  async ack(group: string, acks: AckMap): Promise<void> {
    await this.ready();
    const pipe = this.redis.pipeline();
    appendAcks(pipe, group, acks);
    if (pipe.length) check((await pipe.exec()) as PipelineResult);
  }

  async touch(stream: string, group: string, consumer: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.ready();
    const pipe = this.redis.pipeline();
    for (let i = 0; i < ids.length; i += 1000)
      pipe.xclaim(stream, group, consumer, 0, ...ids.slice(i, i + 1000), 'JUSTID');
    check((await pipe.exec()) as PipelineResult);
  }

  async deadLetter(group: string, moves: DeadLetterMove[]): Promise<void> {
    if (!moves.length) return;
    await this.ready();
    // One MULTI/EXEC: each DLQ append and its source XACK happen together or not at all.
    const tx = this.redis.multi();
    for (const m of moves) {
      tx.xadd(m.dlqStream, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...m.fields);
      tx.xack(m.stream, group, m.entryId);
    }
    check((await tx.exec()) as PipelineResult);
  }

  async groupStats(stream: string, group: string): Promise<GroupStats> {
    await this.ready();
    const groups = (await this.redis.xinfo('GROUPS', stream)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name === group)
        return {
          pending: Number(info.pending ?? 0),
          lag: info.lag === null || info.lag === undefined ? null : Number(info.lag),
        };
    }
    return { pending: 0, lag: null };
  }

  async range(stream: string, start: string, end: string, count: number): Promise<RawEntry[]> {
    await this.ready();
    const rows = (await this.redis.xrange(stream, start, end, 'COUNT', count)) as XEntry[];
    return rows.map(([id, fields]) => ({ id, fields, deliveryCount: 0 }));
  }

  async del(stream: string, ids: string[]): Promise<number> {
    return ids.length ? this.redis.xdel(stream, ...ids) : 0;
  }

  async replay(moves: ReplayMove[]): Promise<void> {
    if (!moves.length) return;
    const tx = this.redis.multi();
    for (const m of moves) {
      tx.xadd(m.stream, '*', ...m.fields);
      tx.xdel(m.dlqStream, m.dlqEntryId);
    }
    check((await tx.exec()) as PipelineResult);
  }

  async markKeys(keys: string[], ttlSec: number): Promise<void> {
    if (!keys.length) return;
    await this.ready();
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.set(k, '1', 'EX', ttlSec, 'NX');
    check((await pipe.exec()) as PipelineResult);
  }

  async existKeys(keys: string[]): Promise<boolean[]> {
    if (!keys.length) return [];
    await this.ready();
    const values = await this.redis.mget(...keys);
    return values.map((v) => v !== null);
  }

  async ping(): Promise<void> {
    await this.ready();
    await this.redis.ping();
  }

  abort(): void {
    for (const r of this.readers) r.close();
    this.readers.clear();
    this.redis.disconnect();
  }

  async close(): Promise<void> {
    for (const r of this.readers) r.close();
    this.readers.clear();
    // QUIT only over a live connection: ioredis never settles it once it has given up reconnecting
    // (status `end`, e.g. after the credentials were revoked).
    if (this.redis.status !== 'ready') {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
