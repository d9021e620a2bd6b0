/**
 * Where a consumer's reader connection goes in a Redis Cluster: the master that owns its stream's
 * slot. Starts from the command client's slot map and follows the cluster's redirections:
 *
 * - `MOVED <slot> <host:port>`: the slot has a new owner (resharding finished, a failover). Reads go
 *   there from now on, and the command client's slot map is refreshed.
 * - `ASK <slot> <host:port>`: the slot is being migrated and this key already moved. Reads go to the
 *   importing node, each command prefixed with `ASKING`, until that node answers `MOVED` (the
 *   migration finished, or was rolled back) or the connection fails.
 * - A connection that fails: the next read starts from the (refreshed) slot map again.
 *
 * A redirected or failed read took nothing from the group (the reply was an error), and the acks
 * sent with it are requeued by the consumer: following a redirection loses and repeats no work.
 */
import { calculateSlot } from './slot';
import type { Cluster } from 'ioredis';

export interface NodeAddress {
  host: string;
  port: number;
}

const REDIRECT = /^(MOVED|ASK) \d+ (\S+):(\d+)/;

export class ClusterRoute {
  private target?: NodeAddress;
  /** Importing node of a slot being migrated: every command needs ASKING first. */
  asking = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly key: string,
  ) {}

  get slot(): number {
    return calculateSlot(this.key);
  }

  /** The node reads go to now. */
  node(): NodeAddress {
    if (!this.target) this.target = this.owner();
    return this.target;
  }

  /** Called with a failed read's error; true when it named a new node (retry there at once). */
  redirected(err: unknown): boolean {
    const message = err instanceof Error ? err.message : String(err);
    const m = REDIRECT.exec(message);
    if (!m) {
      // The node may be gone or no longer own the slot: start from the slot map again.
      this.target = undefined;
      this.asking = false;
      this.cluster.refreshSlotsCache();
      return false;
    }
    this.target = { host: m[2], port: Number(m[3]) };
    this.asking = m[1] === 'ASK';
    if (!this.asking) this.cluster.refreshSlotsCache();
    return true;
  }

  private owner(): NodeAddress {
    const nodes = this.cluster.slots[this.slot];
    const key = nodes?.[0] ?? this.anyNode();
    const colon = key.lastIndexOf(':');
    return { host: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
  }

  /** Before the slot map is known: any node (a wrong one answers MOVED). */
  private anyNode(): string {
    const node = this.cluster.nodes('master')[0] ?? this.cluster.nodes()[0];
    if (!node) throw new Error('Redis Cluster: no node known yet');
    return `${node.options.host}:${node.options.port}`;
  }
}

/** `host:port,host:port` (the `REDIS_CLUSTER_NODES` format) as seed addresses. */
export function parseClusterNodes(list: string | string[]): NodeAddress[] {
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter(Boolean);
  return items.map((item) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(item);
    if (!m) throw new Error(`not a host:port Redis Cluster node: "${item}"`);
    return { host: m[1], port: Number(m[2]) };
  });
}
