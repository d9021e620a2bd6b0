import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { EventBus, PulseBus, StreamInfo } from '@mdp/pulse';
import { EVENT_BUS, MARKET_DATA_STREAMS } from '@mdp/service-kit';

/** The group whose members share the md.* partitions (the store instances). */
const STORE_GROUP = 'store';

/**
 * GET /topology/scale: how the market-data streams are spread out. Per md.* stream, each partition
 * with its length, its slot and owning master (shard) on a Redis Cluster, and the group `store`'s
 * pending entries and consumers; `instances` lists every store consumer seen on any partition.
 */
@Controller()
export class ScaleTopologyController {
  constructor(@Inject(EVENT_BUS) private readonly bus: EventBus) {}

  @Get('topology/scale')
  @Header('Cache-Control', 'no-store')
  async topology() {
    const bus = this.bus as PulseBus;
    const streams: Record<string, StreamInfo[]> = {};
    for (const stream of MARKET_DATA_STREAMS) streams[stream] = await bus.streamTopology(stream, STORE_GROUP);
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
}
