import type { EventBus, PulseBus, StreamInfo } from '@mdp/pulse';
import { MARKET_DATA_STREAMS } from '@mdp/service-kit';

/** The group whose members share the md.* partitions (the store instances). */
export const STORE_GROUP = 'store';

export interface ScaleTopology {
  namespace: string;
  group: string;
  partitions: number;
  /** Masters owning a partition's slot (`host:port`); empty off a Redis Cluster. */
  shards: string[];
  /** Every consumer of group `store` seen on any partition. */
  instances: string[];
  streams: Record<string, StreamInfo[]>;
}

/** How the md.* streams are spread out: per stream, each partition with length, slot, owner and group `store`. */
export async function scaleTopology(eventBus: EventBus): Promise<ScaleTopology> {
  const bus = eventBus as PulseBus;
  const streams: Record<string, StreamInfo[]> = {};
  for (const stream of MARKET_DATA_STREAMS)
    streams[stream] = await bus.streamTopology(stream, STORE_GROUP);
  const all = Object.values(streams).flat();
  return {
    namespace: bus.namespace,
    group: STORE_GROUP,
    partitions: streams[MARKET_DATA_STREAMS[0]].length,
    shards: [...new Set(all.map((p) => p.node).filter((n): n is string => !!n))].sort(),
    instances: [...new Set(all.flatMap((p) => p.consumers.map((c) => c.name)))].sort(),
    streams,
  };
}
