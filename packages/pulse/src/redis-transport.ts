/**
 * Redis Streams transport (ioredis). One command connection for publishing, acks, dead-lettering
 * and stats; every reader gets its own connection (named with CLIENT SETNAME) because XREADGROUP
 * BLOCK holds its connection. Everything on a hot path is one pipelined round trip per batch.
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
import { FIELD, type Fields } from './wire';

type XEntry = [id: string, fields: string[] | null];
type PipelineResult = Array<[Error | null, unknown]> | null;

const DLQ_MAXLEN = 100_000;

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

/** The wire's field names as shared strings (no allocation per entry); other names are decoded. */
function fieldName(b: Buffer): string {
  switch (b.length) {
    case 2:
      if (b[0] === 0x69 && b[1] === 0x64) return FIELD.id;
      break;
    case 5:
      if (sameBytes(b, TRACK)) return FIELD.track;
      break;
    case 8:
      if (sameBytes(b, ENVELOPE)) return FIELD.envelope;
      break;
    case 9:
      if (sameBytes(b, SCHEMA_ID)) return FIELD.schemaId;
      break;
  }
  return b.toString();
}
/** Byte compare in JS: `Buffer.equals` crosses into C++, too dear for a 5-9 byte name per entry. */
function sameBytes(b: Buffer, expected: Buffer): boolean {
  for (let i = 0; i < expected.length; i++) if (b[i] !== expected[i]) return false;
  return true;
}
const TRACK = Buffer.from(FIELD.track);
const ENVELOPE = Buffer.from(FIELD.envelope);
const SCHEMA_ID = Buffer.from(FIELD.schemaId);

/** Decodes a value, handing back the previous string when the bytes are the same. */
class RepeatedValue {
  private bytes = Buffer.alloc(0);
  private text = '';

  of(b: Buffer): string {
    if (b.length === this.bytes.length && sameBytes(b, this.bytes)) return this.text;
    this.bytes = Buffer.from(b);
    return (this.text = b.toString());
  }
}
const lastSchemaId = new RepeatedValue();
const lastTrack = new RepeatedValue();

/** XREADGROUP entries as Buffers -> RawEntry, decoding each field array in place. */
function toEntries(entries: Array<[Buffer, Buffer[] | null]>): RawEntry[] {
  const out: RawEntry[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const [id, raw] = entries[i];
    let fields: Fields | null = null;
    if (raw) {
      fields = raw as unknown as Fields;
      for (let k = 0; k + 1 < raw.length; k += 2) {
        const name = (fields[k] = fieldName(raw[k]));
        // schema_id and track repeat entry after entry: share the string of the previous entry.
        fields[k + 1] =
          name === FIELD.schemaId
            ? lastSchemaId.of(raw[k + 1])
            : name === FIELD.track
              ? lastTrack.of(raw[k + 1])
              : raw[k + 1].toString();
      }
      if (raw.length % 2) fields[raw.length - 1] = raw[raw.length - 1].toString();
    }
    out[i] = { id: id.toString(), fields, deliveryCount: 1 };
  }
  return out;
}

class RedisReader implements TransportReader {
  constructor(private readonly conn: Redis) {}

  async readNew(
    streams: string[],
    group: string,
    consumer: string,
    count: number,
    blockMs: number,
    acks: AckMap,
  ): Promise<StreamBatch[]> {
    const pipe = this.conn.pipeline();
    appendAcks(pipe, group, acks);
    // Raw Buffers: ioredis would otherwise convert every id, field name and value through a
    // recursive copy of the reply; `toEntries` does it in place and shares the field-name strings.
    pipe.callBuffer(
      'XREADGROUP',
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      Math.max(1, Math.round(blockMs)),
      'STREAMS',
      ...streams,
      ...streams.map(() => '>'),
    );
    const values = check((await pipe.exec()) as PipelineResult);
    const reply = values[values.length - 1] as Array<
      [Buffer, Array<[Buffer, Buffer[] | null]>]
    > | null;
    if (!reply) return [];
    const out: StreamBatch[] = [];
    for (const [stream, entries] of reply)
      out.push({ stream: stream.toString(), entries: toEntries(entries) });
    return out;
  }

  async readOwnPending(
    stream: string,
    group: string,
    consumer: string,
    afterId: string,
    count: number,
  ): Promise<RawEntry[]> {
    const reply = (await this.conn.xreadgroup(
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
    return withDeliveryCounts(this.conn, stream, group, consumer, entries);
  }

  async autoclaim(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    cursor: string,
    count: number,
  ): Promise<ClaimResult> {
    const [next, entries, deleted] = (await this.conn.xautoclaim(
      stream,
      group,
      consumer,
      Math.max(0, Math.round(minIdleMs)),
      cursor,
      'COUNT',
      count,
    )) as [string, XEntry[], string[] | undefined];
    // Entries deleted since delivery come back as [id, null] on some versions; Redis 7 lists them in the 3rd element.
    const live = entries.filter((e) => e[1] !== null);
    const gone = [...(deleted ?? []), ...entries.filter((e) => e[1] === null).map((e) => e[0])];
    return {
      cursor: next,
      entries: await withDeliveryCounts(this.conn, stream, group, consumer, live),
      deleted: gone,
    };
  }

  close(): void {
    this.conn.disconnect();
  }
}

export interface RedisTransportOptions {
  url: string;
  /** CLIENT SETNAME prefix for this bus's connections. */
  clientName?: string;
}

export class RedisTransport implements Transport {
  readonly redis: Redis;
  private readonly readers = new Set<Redis>();

  constructor(private readonly opts: RedisTransportOptions) {
    this.redis = new Redis(opts.url, { connectionName: opts.clientName ?? 'pulse' });
    // Errors surface on the commands; an unhandled 'error' event would crash the process.
    this.redis.on('error', () => undefined);
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
    try {
      await this.redis.xgroup('CREATE', stream, group, startFrom, 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  reader(name: string): TransportReader {
    const conn = this.redis.duplicate({ connectionName: name, maxRetriesPerRequest: null });
    conn.on('error', () => undefined);
    this.readers.add(conn);
    conn.once('end', () => this.readers.delete(conn));
    return new RedisReader(conn);
  }

  async ack(group: string, acks: AckMap): Promise<void> {
    const pipe = this.redis.pipeline();
    appendAcks(pipe, group, acks);
    if (pipe.length) check((await pipe.exec()) as PipelineResult);
  }

  async deadLetter(group: string, moves: DeadLetterMove[]): Promise<void> {
    if (!moves.length) return;
    // One MULTI/EXEC: each DLQ append and its source XACK happen together or not at all.
    const tx = this.redis.multi();
    for (const m of moves) {
      tx.xadd(m.dlqStream, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...m.fields);
      tx.xack(m.stream, group, m.entryId);
    }
    check((await tx.exec()) as PipelineResult);
  }

  async groupStats(stream: string, group: string): Promise<GroupStats> {
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
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.set(k, '1', 'EX', ttlSec, 'NX');
    check((await pipe.exec()) as PipelineResult);
  }

  async existKeys(keys: string[]): Promise<boolean[]> {
    if (!keys.length) return [];
    const values = await this.redis.mget(...keys);
    return values.map((v) => v !== null);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  abort(): void {
    for (const r of this.readers) r.disconnect();
    this.readers.clear();
    this.redis.disconnect();
  }

  async close(): Promise<void> {
    for (const r of this.readers) r.disconnect();
    this.readers.clear();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
