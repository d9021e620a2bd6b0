/** `createEventBus`: the bus (`core/`) over the backend the options name (`inmem/` or `redis/`). */
import { Bus, type PulseBus } from './core/bus';
import { DEFAULTS } from './core/defaults';
import type { EventBusOptions } from './core/types';
import { InMemoryTransport } from './inmem/inmem-transport';
import { parseClusterNodes } from './redis/cluster-route';
import { RedisTransport } from './redis/redis-transport';

export function createEventBus(opts: EventBusOptions): PulseBus {
  if (opts.backend === 'inmem') return new Bus('inmem', new InMemoryTransport(opts.inmem), opts);
  if (opts.backend === 'redis') {
    const clusterNodes = opts.clusterNodes ? parseClusterNodes(opts.clusterNodes) : [];
    if (!clusterNodes.length && !opts.redisUrl)
      throw new Error('createEventBus: backend "redis" needs redisUrl or clusterNodes');
    const maxEntryBytes = Math.max(1, opts.maxEntryBytes ?? DEFAULTS.maxEntryBytes);
    return new Bus(
      'redis',
      new RedisTransport({
        url: opts.redisUrl,
        clusterNodes,
        clientName: opts.clientName,
        maxEntryBytes,
      }),
      opts,
    );
  }
  throw new Error(
    `createEventBus: unknown backend "${String((opts as { backend?: unknown }).backend)}" (inmem | redis)`,
  );
}
