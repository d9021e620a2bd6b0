/**
 * Copies entries between the Python market-data-core's stream keys (`<ns>:<ns>.<stream>`, field
 * `data`) and mdp's (`<ns>.<stream>`), both ways, while the two run side by side.
 *
 * - Each direction is a consumer group (`bridge`) on the source key: entries are decoded and validated
 *   like any subscription (junk goes to the source's `.dlq`), acked once copied, reclaimed after a crash.
 * - Idempotent by entry id: the copy is one Lua script that sets a marker key per source entry id
 *   (`<ns>.bridge.<source key>.<entry id>`, SET NX with a TTL) and XADDs only when the marker was new.
 *   A redelivery, a restart or a second bridge with a fresh group finds the marker and adds nothing.
 * - Redis Cluster (`clusterNodes`): the script's two keys must share a slot, so the marker carries
 *   the target key as its hash tag: `<ns>.bridge.{<target key>}.<source key>.<entry id>`.
 * - No loops: a copy carries the header `x-pulse-bridged` (source key and entry id); the opposite
 *   direction acks such entries without copying them back.
 */
import Redis, { Cluster } from 'ioredis';
import { parseClusterNodes } from '../redis/cluster-route';
import type { PulseBus } from '../core/bus';
import { createEventBus } from '../create-event-bus';
import { signEnvelope, SIGNATURE_HEADER } from '../wire/signing';
import type { Delivery, PulseLogger, Subscription, WireLayout } from '../core/types';
import { encodeCoreEntry, encodeEntry, type Fields } from '../wire/wire';

export const BRIDGED_HEADER = 'x-pulse-bridged';
export const BRIDGE_DIRECTIONS = ['core-to-mdp', 'mdp-to-core'] as const;
export type BridgeDirection = (typeof BRIDGE_DIRECTIONS)[number];

export interface BridgeOptions {
  /** A single server (required unless `clusterNodes` is given). */
  redisUrl?: string;
  /** Redis Cluster seed nodes (`host:port`); wins over `redisUrl`. */
  clusterNodes?: string | string[];
  namespace: string;
  /** Logical streams to bridge, e.g. `telemetry.feedback`. */
  streams: string[];
  /** Default both. */
  directions?: readonly BridgeDirection[];
  /** Consumer group on each source key; default `bridge`. */
  group?: string;
  /** Consumer name; default `bridge-<pid>`. */
  consumer?: string;
  /** When set, copies are signed (and sources checked) as with PUBLISHER_TOKEN. */
  publisherToken?: string;
  /** How long a copied entry's marker is kept; default 7 days (beyond any redelivery). */
  markerTtlSec?: number;
  blockMs?: number;
  logger?: PulseLogger;
}

export interface BridgeCounts {
  copied: number;
  /** Already copied (marker present): a redelivery or a restart. */
  duplicate: number;
  /** Copies made by the opposite direction, not copied back. */
  loop: number;
}

/** SET NX the marker, XADD only if it was new; returns the new entry id or false. */
const COPY_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false`;

const WIRES: Record<BridgeDirection, { from: WireLayout; to: WireLayout }> = {
  'core-to-mdp': { from: 'core', to: 'mdp' },
  'mdp-to-core': { from: 'mdp', to: 'core' },
};

export class Bridge {
  private readonly bus: PulseBus;
  private readonly redis: Redis | Cluster;
  private readonly cluster: boolean;
  private readonly subscriptions: Subscription[] = [];
  readonly counts: Record<BridgeDirection, BridgeCounts> = {
    'core-to-mdp': { copied: 0, duplicate: 0, loop: 0 },
    'mdp-to-core': { copied: 0, duplicate: 0, loop: 0 },
  };

  constructor(private readonly opts: BridgeOptions) {
    const seeds = opts.clusterNodes ? parseClusterNodes(opts.clusterNodes) : [];
    this.cluster = seeds.length > 0;
    this.bus = createEventBus({
      backend: 'redis',
      redisUrl: opts.redisUrl,
      clusterNodes: opts.clusterNodes,
      namespace: opts.namespace,
      publisherToken: opts.publisherToken,
      clientName: 'pulse-bridge',
      logger: opts.logger,
    });
    if (this.cluster) this.redis = new Cluster(seeds);
    else if (opts.redisUrl)
      this.redis = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: null });
    else throw new Error('Bridge needs redisUrl or clusterNodes');
  }

  start(): void {
    for (const stream of this.opts.streams)
      for (const direction of this.opts.directions ?? BRIDGE_DIRECTIONS) {
        const { from, to } = WIRES[direction];
        const source = this.bus.physicalStreams(stream, from)[0];
        const target = this.bus.physicalStreams(stream, to)[0];
        this.subscriptions.push(
          this.bus.subscribeBatch(
            {
              stream,
              wire: from,
              group: this.opts.group ?? 'bridge',
              consumer: this.opts.consumer ?? `bridge-${process.pid}`,
              startFrom: '0',
              idempotency: false,
              blockMs: this.opts.blockMs,
            },
            (batch) => this.copy(direction, source, target, batch),
          ),
        );
      }
  }

  private async copy(
    direction: BridgeDirection,
    source: string,
    target: string,
    batch: Delivery[],
  ): Promise<void> {
    const counts = this.counts[direction];
    const ttl = String(this.opts.markerTtlSec ?? 7 * 24 * 3600);
    await Promise.all(
      batch.map(async (d) => {
        const headers = d.envelope.meta.headers;
        if (headers[BRIDGED_HEADER] !== undefined) {
          counts.loop++;
          return d.ack();
        }
        const marker = this.cluster
          ? `${this.opts.namespace}.bridge.{${target}}.${source}.${d.entryId}`
          : `${this.opts.namespace}.bridge.${source}.${d.entryId}`;
        try {
          const added = await this.redis.eval(
            COPY_ONCE,
            2,
            marker,
            target,
            ttl,
            ...this.encode(d, source, WIRES[direction].to),
          );
          if (added) counts.copied++;
          else counts.duplicate++;
          d.ack();
        } catch (err) {
          d.fail(`bridge copy to ${target} failed: ${(err as Error).message}`);
        }
      }),
    );
  }

  private encode(d: Delivery, source: string, to: WireLayout): Fields {
    const headers: Record<string, string> = {
      ...d.envelope.meta.headers,
      [BRIDGED_HEADER]: `${source}/${d.entryId}`,
    };
    delete headers[SIGNATURE_HEADER];
    const envelope = { ...d.envelope, meta: { ...d.envelope.meta, headers } };
    const token = this.opts.publisherToken;
    return to === 'core'
      ? encodeCoreEntry(envelope, token)
      : encodeEntry(token ? signEnvelope(envelope, token) : envelope);
  }

  async close(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
    await this.bus.close();
    this.redis.disconnect();
  }
}
