/**
 * Redis Streams transport. On one server, publishing and acks go over the transport's own
 * `RespConnection` (`<clientName>:hot`, a batch in one write), and every reader gets its own
 * `RespConnection` (named with CLIENT SETNAME) because XREADGROUP BLOCK holds its connection and
 * because that connection decodes the read's reply straight into strings; one ioredis client does
 * the rest (dead-lettering, reclaims, leases, stats), and everything on a cluster. Everything on a
 * hot path is one pipelined round trip per batch.
 *
 * Redis Cluster (`clusterNodes`): commands go through ioredis's `Cluster` (slot routing, MOVED/ASK,
 * slot-map refreshes), and each reader connects to the master owning its stream's slot and follows
 * redirections (`ClusterRoute`). Keys are never assumed to share a slot unless their names put
 * them in one: pipelines and MULTIs hold one key's commands, or a stream and its DLQ when their
 * names share a hash tag (partitions); anything else is sent command by command.
 */
import { calculateSlot } from './slot';
import Redis, { Cluster } from 'ioredis';
import type {
  AckMap,
  ClaimResult,
  DeadLetterMove,
  GroupStats,
  RawEntry,
  StreamInfo,
  ReplayMove,
  StreamBatch,
  TrimSpec,
  Transport,
  TransportReader,
} from '../core/transport';
import type { ClaimIdleRequest, OwnPendingRequest, ReadNewRequest } from '../core/transport';
import { ClusterRoute, type NodeAddress } from './cluster-route';
import { RespConnection } from './resp-connection';
import type { Fields } from '../wire/wire';

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

/** `commands` in one write; throws the first error reply. */
async function callAll(
  conn: RespConnection,
  commands: ReadonlyArray<ReadonlyArray<string | number>>,
): Promise<unknown[]> {
  const replies = await conn.call(commands);
  for (const reply of replies) if (reply instanceof Error) throw reply;
  return replies;
}

function check(results: PipelineResult): unknown[] {
  if (!results) throw new Error('pipeline aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** Delivery counts of `entries` (now owned by `consumer`) from XPENDING, one round trip. */
async function withDeliveryCounts(
  conn: Redis | Cluster,
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

/** The connection(s) a reader's XREADGROUPs go to. */
interface ReadTarget {
  /** The connection for a read of `streams`, and whether each command needs ASKING first. */
  connection(streams: string[]): { conn: RespConnection; asking: boolean };
  /** A read on `conn` failed with `err`: true when the caller should retry at once (a redirection). */
  failed(err: unknown, conn: RespConnection): boolean;
  close(): void;
}

/** One server: one connection for the reader's lifetime. */
class SingleTarget implements ReadTarget {
  private readonly conn: RespConnection;
  constructor(url: string, name: string, maxEntryBytes?: number) {
    this.conn = new RespConnection({ url, name, maxEntryBytes });
  }
  connection(): { conn: RespConnection; asking: boolean } {
    return { conn: this.conn, asking: false };
  }
  failed(): boolean {
    return false;
  }
  close(): void {
    this.conn.close();
  }
}

/**
 * A cluster: a connection to the node `ClusterRoute` names for the reader's stream, replaced when
 * the route changes. A replaced connection is closed once the reads queued on it have answered
 * (they get the same redirection and retry on the new one).
 */
class ClusterTarget implements ReadTarget {
  private route?: ClusterRoute;
  private current?: { conn: RespConnection; node: NodeAddress };
  private readonly retired: RespConnection[] = [];
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly name: string,
    private readonly maxEntryBytes?: number,
  ) {}

  connection(streams: string[]): { conn: RespConnection; asking: boolean } {
    if (this.closed) throw new Error('reader connection closed');
    if (!this.route) {
      const slot = calculateSlot(streams[0]);
      for (const s of streams)
        if (calculateSlot(s) !== slot)
          throw new Error(
            `Redis Cluster: one read cannot span slots (${streams.join(', ')}); read each partition on its own`,
          );
      this.route = new ClusterRoute(this.cluster, streams[0]);
    }
    for (let i = this.retired.length - 1; i >= 0; i--)
      if (!this.retired[i].busy) this.retired.splice(i, 1)[0].close();
    const node = this.route.node();
    if (
      !this.current ||
      this.current.node.host !== node.host ||
      this.current.node.port !== node.port
    ) {
      if (this.current) this.retired.push(this.current.conn);
      this.current = {
        conn: new RespConnection({
          url: `redis://${node.host}:${node.port}`,
          name: this.name,
          maxEntryBytes: this.maxEntryBytes,
        }),
        node,
      };
    }
    return { conn: this.current.conn, asking: this.route.asking };
  }

  failed(err: unknown, conn: RespConnection): boolean {
    if (!this.route) return false;
    // A replaced connection's late redirection: the route already moved on, so retry there.
    if (conn !== this.current?.conn)
      return /^(MOVED|ASK) /.test(err instanceof Error ? err.message : '');
    return this.route.redirected(err);
  }

  close(): void {
    this.closed = true;
    this.current?.conn.close();
    for (const c of this.retired.splice(0)) c.close();
  }
}

/** Redirections one read follows before its error goes to the consumer loop (which backs off). */
const MAX_REDIRECTS = 3;

class RedisReader implements TransportReader {
  constructor(
    private readonly target: ReadTarget,
    /** The transport's command client: reads that never block run there. */
    private readonly commands: Redis | Cluster,
    private readonly ready: () => Promise<void>,
    private readonly onClose: () => void,
  ) {}

  readNew(req: ReadNewRequest): Promise<StreamBatch[]> {
    const { streams, group, consumer, count, blockMs, acks } = req;
    const xacks: Array<Array<string | number>> = [];
    for (const [stream, ids] of acks) if (ids.length) xacks.push(['XACK', stream, group, ...ids]);
    const block = Math.max(1, Math.round(blockMs));
    const xreadgroup = [
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
    ];
    const attempt = async (redirects: number): Promise<StreamBatch[]> => {
      const { conn, asking } = this.target.connection(streams);
      // ASKING holds for the one command after it, so every command gets its own.
      const before = asking ? [...xacks.flatMap((c) => [['ASKING'], c]), ['ASKING']] : xacks;
      try {
        return await conn.read(before, xreadgroup, block);
      } catch (err) {
        // XACK is idempotent and a redirected XREADGROUP took nothing, so both are sent again.
        if (this.target.failed(err, conn) && redirects < MAX_REDIRECTS)
          return attempt(redirects + 1);
        throw err;
      }
    };
    return attempt(0);
  }

  async readOwnPending(req: OwnPendingRequest): Promise<RawEntry[]> {
    const { stream, group, consumer, afterId, count } = req;
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

  async claimIdle(req: ClaimIdleRequest): Promise<ClaimResult> {
    const { stream, group, consumer, minIdleMs, cursor, count, exclude } = req;
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
    this.target.close();
    this.onClose();
  }
}

export interface RedisTransportOptions {
  /** A single server; ignored when `clusterNodes` is set. */
  url?: string;
  /** Redis Cluster seed nodes: commands through ioredis's `Cluster`, readers to slot owners. */
  clusterNodes?: NodeAddress[];
  /** CLIENT SETNAME prefix for this bus's connections. */
  clientName?: string;
  /** Field values over this are dropped unread by the reader connections. */
  maxEntryBytes?: number;
}

/**
 * Records `ARGV[3]`'s beat (server time) in the hash `KEYS[2]`, then removes the group's consumers that
 * hold nothing, were idle `ARGV[2]` ms and have not beaten for as long. The beat is what tells a live
 * consumer on a quiet stream from a gone one: before Redis 7.2 a consumer's idle time only restarts
 * when a read brings it entries, so on a stream with no traffic every live consumer looks idle.
 */
const PRUNE_CONSUMERS = `
local removed = {}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[2])
local field = ARGV[1] .. '/'
redis.call('HSET', KEYS[2], field .. ARGV[3], now)
redis.call('PEXPIRE', KEYS[2], grace * 2)
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return removed end
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  local beat = redis.call('HGET', KEYS[2], field .. name)
  local silent = not beat or now - tonumber(beat) >= grace
  if name ~= ARGV[3] and pending == 0 and idle >= grace and silent then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    redis.call('HDEL', KEYS[2], field .. name)
    table.insert(removed, name)
  end
end
return removed`;

/**
 * The hash of consumer beats for `stream`, in the stream's Redis Cluster slot: a name without a hash
 * tag hashes whole, which is what the tag `{<name>}` hashes; a tagged name keeps its tag.
 */
export function consumerBeatsKey(stream: string): string {
  const open = stream.indexOf('{');
  const close = open < 0 ? -1 : stream.indexOf('}', open + 1);
  const tagged = close > open + 1; // `{}` is no tag: the name hashes whole

  return tagged ? `${stream}.beats` : `{${stream}}.beats`;
}

/** Takes the lease for `ARGV[1]` when free, extends it when already held: returns the holder. */
const HOLD_LEASE = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return holder`;

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** XINFO through a script: EVAL names its key, so the cluster client routes it (XINFO it cannot). */
const XINFO = `return redis.call('XINFO', ARGV[1], KEYS[1], unpack(ARGV, 2))`;

const sameSlot = (a: string, b: string) => calculateSlot(a) === calculateSlot(b);

export class RedisTransport implements Transport {
  readonly redis: Redis | Cluster;
  readonly cluster?: Cluster;
  private readonly readers = new Set<ReadTarget>();
  /**
   * The hot path's own connection for publishing and acks (one server; a cluster goes through
   * ioredis's routing): a batch is one write, with no per-command client objects (see RespConnection).
   */
  private readonly hotPath?: RespConnection;
  private lastError?: string;

  constructor(private readonly opts: RedisTransportOptions) {
    const connectionName = opts.clientName ?? 'pulse';
    // A command caught by a dropped connection fails after one reconnect attempt instead of twenty:
    // every caller retries on its own (consumer loop, publisher's kept batch), and a consumer being
    // closed must not wait out an outage.
    const maxRetriesPerRequest = 1;
    if (opts.clusterNodes?.length) {
      this.cluster = new Cluster(opts.clusterNodes, {
        redisOptions: { connectionName, maxRetriesPerRequest },
        slotsRefreshInterval: 5000,
      });
      this.redis = this.cluster;
    } else {
      if (!opts.url) throw new Error('RedisTransport needs url or clusterNodes');
      this.redis = new Redis(opts.url, { connectionName, maxRetriesPerRequest });
      this.hotPath = new RespConnection({ url: opts.url, name: `${connectionName}:hot` });
    }
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
    if (this.hotPath) {
      const head = ['XADD', stream, ...targs, '*'];
      return (await callAll(
        this.hotPath,
        entries.map((fields) => head.concat(fields)),
      )) as string[];
    }
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

  /** In a cluster one XREADGROUP reads one slot, so a reader reads one stream. */
  get oneStreamPerReader(): boolean {
    return this.cluster !== undefined;
  }

  reader(name: string): TransportReader {
    const target: ReadTarget = this.cluster
      ? new ClusterTarget(this.cluster, name, this.opts.maxEntryBytes)
      : new SingleTarget(this.opts.url!, name, this.opts.maxEntryBytes);
    this.readers.add(target);
    return new RedisReader(
      target,
      this.redis,
      () => this.ready(),
      () => this.readers.delete(target),
    );
  }

  async ack(group: string, acks: AckMap): Promise<void> {
    await this.ready();
    const streams = [...acks].filter(([, ids]) => ids.length);
    if (!streams.length) return;
    if (this.cluster) {
      // Each stream's XACK goes to its own slot.
      await Promise.all(streams.map(([stream, ids]) => this.redis.xack(stream, group, ...ids)));
      return;
    }
    await callAll(
      this.hotPath!,
      streams.map(([stream, ids]) => ['XACK', stream, group, ...ids]),
    );
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
    if (this.cluster) {
      for (const m of moves) await this.deadLetterOne(group, m);
      return;
    }
    // One MULTI/EXEC: each DLQ append and its source XACK happen together or not at all.
    const tx = this.redis.multi();
    for (const m of moves) {
      tx.xadd(m.dlqStream, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...m.fields);
      tx.xack(m.stream, group, m.entryId);
    }
    check((await tx.exec()) as PipelineResult);
  }

  /**
   * Cluster: atomic when the stream and its DLQ share a slot (partition names are hash tags);
   * otherwise the DLQ append comes first and then the ack, so a crash in between leaves the entry
   * pending and it may be dead-lettered twice, never lost.
   */
  private async deadLetterOne(group: string, m: DeadLetterMove): Promise<void> {
    if (sameSlot(m.stream, m.dlqStream)) {
      const tx = this.redis.multi();
      tx.xadd(m.dlqStream, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...m.fields);
      tx.xack(m.stream, group, m.entryId);
      check((await tx.exec()) as PipelineResult);
      return;
    }
    await this.redis.xadd(m.dlqStream, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...m.fields);
    await this.redis.xack(m.stream, group, m.entryId);
  }

  async groupStats(stream: string, group: string): Promise<GroupStats> {
    await this.ready();
    let groups: unknown[][];
    try {
      groups = (await this.xinfo('GROUPS', stream)) as unknown[][];
    } catch (err) {
      // A partition nothing was published to (nor read from) yet.
      if (/no such key/i.test((err as Error).message)) return { pending: 0, lag: 0 };
      throw err;
    }
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

  private xinfo(sub: 'GROUPS' | 'CONSUMERS', stream: string, ...args: string[]): Promise<unknown> {
    if (!this.cluster) return this.redis.call('XINFO', sub, stream, ...args);
    return this.redis.eval(XINFO, 1, stream, sub, ...args);
  }

  async streamInfo(stream: string, group: string): Promise<StreamInfo> {
    const info: StreamInfo = {
      stream,
      length: await this.redis.xlen(stream),
      pending: 0,
      consumers: [],
    };
    if (this.cluster) {
      info.slot = calculateSlot(stream);
      info.node = this.cluster.slots[info.slot]?.[0];
    }
    let rows: unknown[][] = [];
    try {
      rows = (await this.xinfo('CONSUMERS', stream, group)) as unknown[][];
    } catch (err) {
      if (!/NOGROUP|no such key/i.test((err as Error).message)) throw err;
    }
    for (const row of rows) {
      const c: Record<string, unknown> = {};
      for (let i = 0; i + 1 < row.length; i += 2) c[String(row[i])] = row[i + 1];
      info.consumers.push({
        name: String(c.name),
        pending: Number(c.pending ?? 0),
        idleMs: Number(c.idle ?? 0),
      });
      info.pending += Number(c.pending ?? 0);
    }
    return info;
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
    if (this.cluster) {
      // Same rule as dead-lettering: atomic within a slot, else append first (a crash may replay twice).
      for (const m of moves) {
        if (sameSlot(m.stream, m.dlqStream)) {
          check(
            (await this.redis
              .multi()
              .xadd(m.stream, '*', ...m.fields)
              .xdel(m.dlqStream, m.dlqEntryId)
              .exec()) as PipelineResult,
          );
        } else {
          await this.redis.xadd(m.stream, '*', ...m.fields);
          await this.redis.xdel(m.dlqStream, m.dlqEntryId);
        }
      }
      return;
    }
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
    if (this.cluster) {
      await Promise.all(keys.map((k) => this.redis.set(k, '1', 'EX', ttlSec, 'NX')));
      return;
    }
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.set(k, '1', 'EX', ttlSec, 'NX');
    check((await pipe.exec()) as PipelineResult);
  }

  async existKeys(keys: string[]): Promise<boolean[]> {
    if (!keys.length) return [];
    await this.ready();
    // MGET spans slots; in a cluster each key is its own (auto-pipelined) EXISTS.
    if (this.cluster) return Promise.all(keys.map(async (k) => (await this.redis.exists(k)) === 1));
    const values = await this.redis.mget(...keys);
    return values.map((v) => v !== null);
  }

  async pruneConsumers(
    stream: string,
    group: string,
    idleMs: number,
    keep: string,
  ): Promise<string[]> {
    return (await this.redis.eval(
      PRUNE_CONSUMERS,
      2,
      stream,
      consumerBeatsKey(stream),
      group,
      Math.round(idleMs),
      keep,
    )) as string[];
  }

  async claimSetting(key: string, value: string): Promise<string> {
    const previous = await this.redis.set(key, value, 'NX', 'GET');
    return previous ?? value;
  }

  async holdLease(key: string, holder: string, ttlMs: number): Promise<string> {
    return (await this.redis.eval(HOLD_LEASE, 1, key, holder, Math.round(ttlMs))) as string;
  }

  async releaseLease(key: string, holder: string): Promise<void> {
    await this.redis.eval(RELEASE_LEASE, 1, key, holder);
  }

  async ping(): Promise<void> {
    await this.ready();
    await this.redis.ping();
  }

  abort(): void {
    for (const r of this.readers) r.close();
    this.readers.clear();
    this.hotPath?.close();
    this.redis.disconnect();
  }

  async close(): Promise<void> {
    for (const r of this.readers) r.close();
    this.readers.clear();
    this.hotPath?.close();
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
