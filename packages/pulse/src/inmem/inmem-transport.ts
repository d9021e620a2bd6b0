/**
 * An in-process emulation of Redis Streams consumer groups (entry ids, last-delivered id, pending
 * entries list with owner/idle/delivery count, claiming idle entries, trimming), so the in-memory backend
 * behaves like the real one. Several buses can share one `InMemoryStreams` to act as separate
 * processes in tests.
 */
import type {
  AckMap,
  ClaimResult,
  DeadLetterMove,
  GroupStats,
  RawEntry,
  ReplayMove,
  StreamBatch,
  StreamInfo,
  TrimSpec,
  Transport,
  TransportReader,
} from '../core/transport';
import type { ClaimIdleRequest, OwnPendingRequest, ReadNewRequest } from '../core/transport';
import { compareIds } from '../core/transport';
import type { Fields } from '../wire/wire';

interface MemEntry {
  id: string;
  fields: Fields;
}

interface PendingEntry {
  consumer: string;
  deliveredAt: number;
  count: number;
}

interface MemGroup {
  lastDelivered: string;
  pel: Map<string, PendingEntry>;
}

class MemStream {
  entries: MemEntry[] = [];
  byId = new Map<string, MemEntry>();
  groups = new Map<string, MemGroup>();
  lastMs = 0;
  lastSeq = 0;

  nextId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq++;
    }
    return `${this.lastMs}-${this.lastSeq}`;
  }

  lastId(): string {
    return this.entries.length
      ? this.entries[this.entries.length - 1].id
      : `${this.lastMs}-${this.lastSeq}`;
  }

  /** Index of the first entry with id > `after`. */
  firstAfter(after: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIds(this.entries[mid].id, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  trim(spec: TrimSpec | undefined): void {
    if (!spec) return;
    let drop = 0;
    if (spec.maxLen !== undefined && this.entries.length > spec.maxLen)
      drop = this.entries.length - spec.maxLen;
    if (spec.retentionMs !== undefined) {
      const minMs = Date.now() - spec.retentionMs;
      drop = Math.max(drop, this.firstAfter(`${minMs - 1}-${Number.MAX_SAFE_INTEGER}`));
    }
    for (const e of this.entries.splice(0, drop)) this.byId.delete(e.id);
  }
}

/** The shared in-memory "server". */
export class InMemoryStreams {
  private streams = new Map<string, MemStream>();
  private keys = new Map<string, number>();
  /** Settings and leases: value and expiry (epoch ms, Infinity for none). */
  readonly values = new Map<string, { value: string; expires: number }>();
  private waiters = new Set<() => void>();

  stream(name: string, create = true): MemStream | undefined {
    let s = this.streams.get(name);
    if (!s && create) {
      s = new MemStream();
      this.streams.set(name, s);
    }
    return s;
  }

  notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves on the next add anywhere, after `ms`, or on abort. */
  wait(ms: number, signal: { aborted: boolean; onAbort?: () => void }): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.onAbort = done;
    });
  }

  /** Key-value with expiry for the idempotency store. */
  setNx(key: string, ttlSec: number): boolean {
    const now = Date.now();
    const exp = this.keys.get(key);
    if (exp !== undefined && exp > now) return false;
    this.keys.set(key, now + ttlSec * 1000);
    return true;
  }

  exists(key: string): boolean {
    const exp = this.keys.get(key);
    if (exp === undefined) return false;
    if (exp <= Date.now()) {
      this.keys.delete(key);
      return false;
    }
    return true;
  }

  deleteStream(name: string): void {
    this.streams.delete(name);
  }
}

function nogroup(stream: string, group: string): Error {
  return new Error(`NOGROUP No such key '${stream}' or consumer group '${group}'`);
}

class InMemoryReader implements TransportReader {
  private closed = false;
  private signal: { aborted: boolean; onAbort?: () => void } = { aborted: false };

  constructor(private readonly transport: InMemoryTransport) {}

  async readNew(req: ReadNewRequest): Promise<StreamBatch[]> {
    const { streams, group, consumer, count, blockMs, acks } = req;
    await this.transport.ack(group, acks);
    const deadline = Date.now() + blockMs;
    for (;;) {
      if (this.closed) throw new Error('reader closed');
      const out: StreamBatch[] = [];
      for (const name of streams) {
        const s = this.transport.world.stream(name, false);
        const g = s?.groups.get(group);
        if (!s || !g) throw nogroup(name, group);
        const start = s.firstAfter(g.lastDelivered);
        const slice = s.entries.slice(start, start + count);
        if (!slice.length) continue;
        const now = Date.now();
        g.lastDelivered = slice[slice.length - 1].id;
        for (const e of slice) g.pel.set(e.id, { consumer, deliveredAt: now, count: 1 });
        out.push({
          stream: name,
          entries: slice.map((e) => ({ id: e.id, fields: e.fields, deliveryCount: 1 })),
        });
      }
      if (out.length) return out;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.transport.world.wait(left, this.signal);
    }
  }

  async readOwnPending(req: OwnPendingRequest): Promise<RawEntry[]> {
    const { stream, group, consumer, afterId, count } = req;
    const s = this.transport.world.stream(stream, false);
    const g = s?.groups.get(group);
    if (!s || !g) throw nogroup(stream, group);
    const ids = [...g.pel.entries()]
      .filter(([id, p]) => p.consumer === consumer && compareIds(id, afterId) > 0)
      .map(([id]) => id)
      .sort(compareIds)
      .slice(0, count);
    const now = Date.now();
    return ids.map((id) => {
      const p = g.pel.get(id)!;
      p.count++;
      p.deliveredAt = now;
      return { id, fields: s.byId.get(id)?.fields ?? null, deliveryCount: p.count };
    });
  }

  async claimIdle(req: ClaimIdleRequest): Promise<ClaimResult> {
    const { stream, group, consumer, minIdleMs, cursor, count, exclude } = req;
    const s = this.transport.world.stream(stream, false);
    const g = s?.groups.get(group);
    if (!s || !g) throw nogroup(stream, group);
    const now = Date.now();
    const after = cursor === '0' ? '0-0' : cursor;
    const ids = [...g.pel.keys()].filter((id) => compareIds(id, after) > 0).sort(compareIds);
    const page = Math.max(count, 100);
    const entries: RawEntry[] = [];
    const deleted: string[] = [];
    let scanned = 0;
    let next = '0-0';
    for (const id of ids) {
      if (scanned >= page || entries.length >= count) break;
      scanned++;
      next = id;
      const p = g.pel.get(id)!;
      if (now - p.deliveredAt < minIdleMs || exclude.has(id)) continue;
      const entry = s.byId.get(id);
      if (!entry) {
        g.pel.delete(id);
        deleted.push(id);
        continue;
      }
      p.consumer = consumer;
      p.deliveredAt = now;
      p.count++;
      entries.push({ id, fields: entry.fields, deliveryCount: p.count });
    }
    if (scanned === ids.length) next = '0-0';
    return { cursor: next, entries, deleted };
  }

  close(): void {
    this.closed = true;
    this.signal.aborted = true;
    this.signal.onAbort?.();
  }
}

export class InMemoryTransport implements Transport {
  constructor(readonly world: InMemoryStreams = new InMemoryStreams()) {}

  async add(stream: string, entries: Fields[], trim?: TrimSpec): Promise<string[]> {
    const s = this.world.stream(stream)!;
    const ids: string[] = [];
    for (const fields of entries) {
      const id = s.nextId();
      const entry = { id, fields: [...fields] };
      s.entries.push(entry);
      s.byId.set(id, entry);
      ids.push(id);
    }
    s.trim(trim);
    if (entries.length) this.world.notify();
    return ids;
  }

  async ensureGroup(stream: string, group: string, startFrom: '0' | '$'): Promise<void> {
    const s = this.world.stream(stream)!;
    if (s.groups.has(group)) return;
    s.groups.set(group, { lastDelivered: startFrom === '$' ? s.lastId() : '0-0', pel: new Map() });
  }

  reader(): TransportReader {
    return new InMemoryReader(this);
  }

  async ack(group: string, acks: AckMap): Promise<void> {
    for (const [stream, ids] of acks) {
      const g = this.world.stream(stream, false)?.groups.get(group);
      if (!g) continue;
      for (const id of ids) g.pel.delete(id);
    }
  }

  async touch(stream: string, group: string, consumer: string, ids: string[]): Promise<void> {
    const g = this.world.stream(stream, false)?.groups.get(group);
    if (!g) return;
    const now = Date.now();
    for (const id of ids) {
      const p = g.pel.get(id);
      if (!p) continue;
      p.consumer = consumer;
      p.deliveredAt = now;
    }
  }

  async deadLetter(group: string, moves: DeadLetterMove[]): Promise<void> {
    for (const m of moves) {
      await this.add(m.dlqStream, [m.fields]);
      await this.ack(group, new Map([[m.stream, [m.entryId]]]));
    }
  }

  async groupStats(stream: string, group: string): Promise<GroupStats> {
    const s = this.world.stream(stream, false);
    const g = s?.groups.get(group);
    if (!s || !g) return { pending: 0, lag: 0 };
    return { pending: g.pel.size, lag: s.entries.length - s.firstAfter(g.lastDelivered) };
  }

  async range(stream: string, start: string, end: string, count: number): Promise<RawEntry[]> {
    const s = this.world.stream(stream, false);
    if (!s) return [];
    const exclusive = start.startsWith('(');
    const lo = start === '-' ? '0-0' : exclusive ? start.slice(1) : start;
    return s.entries
      .filter(
        (e) =>
          compareIds(e.id, lo) > (exclusive ? 0 : -1) &&
          (end === '+' || compareIds(e.id, end) <= 0),
      )
      .slice(0, count)
      .map((e) => ({ id: e.id, fields: e.fields, deliveryCount: 0 }));
  }

  async del(stream: string, ids: string[]): Promise<number> {
    const s = this.world.stream(stream, false);
    if (!s) return 0;
    const drop = new Set(ids.filter((id) => s.byId.has(id)));
    s.entries = s.entries.filter((e) => !drop.has(e.id));
    for (const id of drop) s.byId.delete(id);
    return drop.size;
  }

  async replay(moves: ReplayMove[]): Promise<void> {
    for (const m of moves) {
      await this.add(m.stream, [m.fields]);
      await this.del(m.dlqStream, [m.dlqEntryId]);
    }
  }

  async markKeys(keys: string[], ttlSec: number): Promise<void> {
    for (const k of keys) this.world.setNx(k, ttlSec);
  }

  async existKeys(keys: string[]): Promise<boolean[]> {
    return keys.map((k) => this.world.exists(k));
  }

  async streamInfo(stream: string, group: string): Promise<StreamInfo> {
    const s = this.world.stream(stream, false);
    const g = s?.groups.get(group);
    const byConsumer = new Map<string, { pending: number; seenAt: number }>();
    for (const p of g?.pel.values() ?? []) {
      const c = byConsumer.get(p.consumer) ?? { pending: 0, seenAt: 0 };
      c.pending++;
      c.seenAt = Math.max(c.seenAt, p.deliveredAt);
      byConsumer.set(p.consumer, c);
    }
    return {
      stream,
      length: s?.entries.length ?? 0,
      pending: g?.pel.size ?? 0,
      consumers: [...byConsumer].map(([name, c]) => ({
        name,
        pending: c.pending,
        idleMs: Date.now() - c.seenAt,
      })),
    };
  }

  /** The emulation keeps no consumer registry (a consumer exists through its pending entries). */
  async pruneConsumers(): Promise<string[]> {
    return [];
  }

  async claimSetting(key: string, value: string): Promise<string> {
    const stored = this.world.values.get(key);
    if (stored) return stored.value;
    this.world.values.set(key, { value, expires: Infinity });
    return value;
  }

  async holdLease(key: string, holder: string, ttlMs: number): Promise<string> {
    const now = Date.now();
    const lease = this.world.values.get(key);
    if (lease && lease.expires > now && lease.value !== holder) return lease.value;
    this.world.values.set(key, { value: holder, expires: now + ttlMs });
    return holder;
  }

  async releaseLease(key: string, holder: string): Promise<void> {
    if (this.world.values.get(key)?.value === holder) this.world.values.delete(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  abort(): void {}
}
