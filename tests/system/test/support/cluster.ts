/**
 * What the scale-out tests and the scale benchmark share: a system on a private Redis Cluster with
 * partitioned md.* streams, and the figures read back from every partition.
 */
import { Cluster } from 'ioredis';
import { partitionStream } from '@mdp/pulse';
import type { RedisCluster } from '@mdp/testing';
import { barKey, Env } from './system';

/** Enough symbols that every one of `partitions` partitions gets bars (FNV-1a spreads them). */
export function symbols(n: number): string {
  return Array.from({ length: n }, (_, i) => `SYM${i}`).join(',');
}

export function clusterEnv(cluster: RedisCluster, partitions: number): Env {
  return { REDIS_CLUSTER_NODES: cluster.seeds, MD_PARTITIONS: String(partitions) };
}

export function clusterClient(cluster: RedisCluster): Cluster {
  return new Cluster(cluster.servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
}

export interface PartitionState {
  stream: string;
  length: number;
  pending: number;
  /** Entries the group `store` has read (XINFO GROUPS entries-read). */
  entriesRead: number;
  consumers: Array<{ name: string; pending: number }>;
}

/** Group `store` on every partition of `<ns>.md.bars`. */
export async function partitionStates(
  redis: Cluster,
  namespace: string,
  partitions: number,
): Promise<PartitionState[]> {
  const out: PartitionState[] = [];
  for (let p = 0; p < partitions; p++) {
    const stream = partitionStream(namespace, 'md.bars', p);
    const length = await redis.xlen(stream);
    const groups = ((await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][]).map(
      toObject,
    );
    const group = groups.find((g) => g.name === 'store');
    const consumers = group
      ? ((await redis.xinfo('CONSUMERS', stream, 'store')) as unknown[][]).map(toObject)
      : [];
    out.push({
      stream,
      length,
      pending: Number(group?.pending ?? 0),
      entriesRead: Number(group?.['entries-read'] ?? 0),
      consumers: consumers.map((c) => ({ name: String(c.name), pending: Number(c.pending) })),
    });
  }
  return out;
}

/** Distinct bar keys over every partition, and the entry count. */
export async function publishedBars(
  redis: Cluster,
  namespace: string,
  partitions: number,
): Promise<{ entries: number; keys: Set<string> }> {
  const keys = new Set<string>();
  let entries = 0;
  for (let p = 0; p < partitions; p++) {
    const stream = partitionStream(namespace, 'md.bars', p);
    let from = '-';
    for (;;) {
      const page = await redis.xrange(stream, from, '+', 'COUNT', 5000);
      for (const [, fields] of page) {
        entries++;
        const bar = JSON.parse(fields[fields.indexOf('envelope') + 1]).payload as {
          symbol: string;
          interval: string;
          ts: number;
        };
        keys.add(barKey(bar.symbol, bar.interval, bar.ts));
      }
      if (page.length < 5000) break;
      from = `(${page[page.length - 1][0]}`;
    }
  }
  return { entries, keys };
}

function toObject(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}
