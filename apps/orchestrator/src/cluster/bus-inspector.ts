import Redis from 'ioredis';
import { STREAM_CATALOGUE } from '@mdp/contracts';
import type { PulseBus } from '@mdp/pulse';

/** One consumer of a group, as XINFO CONSUMERS reports it. */
export interface ConsumerInfo {
  name: string;
  pending: number;
  /** Milliseconds since the consumer last read; null when the backend cannot tell. */
  idle_ms: number | null;
}

/** One consumer group (the contract's ConsumerGroupStatus plus its consumers). */
export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
  last_delivered_id?: string;
  consumer_list: ConsumerInfo[];
}

/** One stream (logical name) with its groups and dead-letter depth (the contract's StreamStatus plus detail). */
export interface StreamInfo {
  name: string;
  physical: string;
  length: number;
  groups: GroupInfo[];
  dlq_length?: number;
}

/** Reads the shape of the bus: which streams exist, their groups, consumers, pending and lag. */
export interface BusInspector {
  streams(): Promise<StreamInfo[]>;
  close(): Promise<void>;
}

const DLQ_SUFFIX = '.dlq';

/** `<ns>.md.bars` → `md.bars`; a partition `{<ns>.md.bars.p0}` → `md.bars.p0`. */
export function logicalName(namespace: string, physical: string): string {
  const bare =
    physical.startsWith('{') && physical.endsWith('}')
      ? physical.slice(1, -1)
      : physical.replace(/^\{([^}]*)\}/, '$1');
  return bare.startsWith(`${namespace}.`) ? bare.slice(namespace.length + 1) : bare;
}

/**
 * Redis itself is the truth: every stream under the namespace is found with SCAN (TYPE stream), so
 * streams, groups and consumers the orchestrator was never told about show up too.
 */
export class RedisInspector implements BusInspector {
  private readonly redis: Redis;

  constructor(
    redisUrl: string,
    private readonly namespace: string,
  ) {
    this.redis = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectionName: `orch-inspector`,
      enableOfflineQueue: true,
    });
    // Errors surface on the calls; an idle reconnect must not crash the process.
    this.redis.on('error', () => undefined);
  }

  async streams(): Promise<StreamInfo[]> {
    const keys = new Set<string>();
    for (const pattern of [`${this.namespace}.*`, `{${this.namespace}.*`]) {
      let cursor = '0';
      do {
        const [next, batch] = await this.redis.scan(
          cursor,
          'MATCH',
          pattern,
          'COUNT',
          500,
          'TYPE',
          'stream',
        );
        cursor = next;
        for (const k of batch) keys.add(k);
      } while (cursor !== '0');
    }
    const dlqLengths = new Map<string, number>();
    const sources: string[] = [];
    for (const key of keys) {
      if (key.endsWith(DLQ_SUFFIX))
        dlqLengths.set(key.slice(0, -DLQ_SUFFIX.length), await this.redis.xlen(key));
      else sources.push(key);
    }
    // A DLQ whose source stream is gone (trimmed, deleted) is still worth showing.
    for (const source of dlqLengths.keys()) if (!keys.has(source)) sources.push(source);
    const out = await Promise.all(
      sources.sort().map((physical) => this.stream(physical, dlqLengths.get(physical))),
    );
    return out;
  }

  private async stream(physical: string, dlqLength: number | undefined): Promise<StreamInfo> {
    const info: StreamInfo = {
      name: logicalName(this.namespace, physical),
      physical,
      length: 0,
      groups: [],
    };
    if (dlqLength !== undefined) info.dlq_length = dlqLength;
    const exists = (await this.redis.exists(physical)) === 1;
    if (!exists) return info;
    info.length = await this.redis.xlen(physical);
    const groups = (await this.redis.xinfo('GROUPS', physical)) as unknown[][];
    for (const raw of groups) {
      const g = pairs(raw);
      const name = String(g.name);
      const consumers = ((await this.redis.xinfo('CONSUMERS', physical, name)) as unknown[][]).map(
        pairs,
      );
      info.groups.push({
        name,
        consumers: Number(g.consumers ?? 0),
        pending: Number(g.pending ?? 0),
        lag: g.lag === null || g.lag === undefined ? null : Number(g.lag),
        last_delivered_id:
          g['last-delivered-id'] === undefined ? undefined : String(g['last-delivered-id']),
        consumer_list: consumers.map((c) => ({
          name: String(c.name),
          pending: Number(c.pending ?? 0),
          idle_ms: c.idle === undefined ? null : Number(c.idle),
        })),
      });
    }
    return info;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** The catalogue's streams and groups: what the in-memory bus can be asked about (it cannot be listed). */
export const KNOWN_STREAMS: ReadonlyArray<{ stream: string; groups: string[] }> =
  STREAM_CATALOGUE.map((s) => ({
    stream: s.name,
    groups: s.groups.map((g) => g.name),
  }));

/**
 * The in-memory bus (one process) has no XINFO and cannot list its streams: report the known streams'
 * groups from the bus's own counters. Consumers and idle times are not tracked there.
 */
export class MemoryInspector implements BusInspector {
  constructor(private readonly bus: PulseBus) {}

  async streams(): Promise<StreamInfo[]> {
    return Promise.all(
      KNOWN_STREAMS.map(async ({ stream, groups }) => {
        const dlq = await this.bus.readDeadLetters(stream, { count: 100_000 });
        return {
          name: stream,
          physical: this.bus.streamName(stream),
          length: 0,
          dlq_length: dlq.length,
          groups: await Promise.all(
            groups.map(async (name) => {
              const st = await this.bus.groupStats(stream, name);
              return { name, consumers: 0, pending: st.pending, lag: st.lag, consumer_list: [] };
            }),
          ),
        };
      }),
    );
  }

  async close(): Promise<void> {}
}
