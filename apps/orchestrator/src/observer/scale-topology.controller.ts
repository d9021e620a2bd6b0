import { Controller, Get, Header, Inject } from '@nestjs/common';
import type { EventBus } from '@mdp/pulse';
import { EVENT_BUS } from '@mdp/service-kit';
import { scaleTopology } from './scale-topology';

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
  topology() {
    return scaleTopology(this.bus);
  }
}
