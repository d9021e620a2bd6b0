import { execFile } from 'child_process';
import { rmSync } from 'fs';
import { promisify } from 'util';
import { Stoppable, track, untrack } from './cleanup';
import { RedisServer } from './redis-server';
import { waitFor } from './wait';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Masters (no replicas); default 3, the fewest `redis-cli --cluster create` accepts. */
  masters?: number;
}

export interface ClusterNode {
  id: string;
  port: number;
  /** Slot ranges this master owns, inclusive. */
  slots: Array<[number, number]>;
}

/**
 * A private Redis Cluster on free loopback ports: `masters` `redis-server --cluster-enabled yes`
 * processes (each a `RedisServer`, with its own data directory) joined by
 * `redis-cli --cluster create ... --cluster-replicas 0`. `stop()` stops every node and removes their
 * directories; everything is registered for the harness's cleanup, so a failing test leaves nothing.
 */
export class RedisCluster implements Stoppable {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    const cluster = track(new RedisCluster(servers));
    try {
      for (let i = 0; i < (opts.masters ?? 3); i++) {
        const server = await RedisServer.create({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '3000',
          ],
        });
        servers.push(server);
        await server.start();
      }
      await cluster.cli(
        '--cluster',
        'create',
        ...cluster.addresses,
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      );
      await waitFor(
        async () =>
          (await Promise.all(cluster.servers.map((s) => cluster.info(s.port)))).every((i) =>
            /cluster_state:ok/.test(i),
          ),
        {
          timeoutMs: 15_000,
          what: 'Redis Cluster state ok on every node',
        },
      );
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  get addresses(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  /** `REDIS_CLUSTER_NODES`. */
  get seeds(): string {
    return this.addresses.join(',');
  }

  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', args, { timeout: 60_000, maxBuffer: 16 * 2 ** 20 });
    return stdout;
  }

  info(port: number): Promise<string> {
    return this.cli('-p', String(port), 'cluster', 'info');
  }

  /** The masters and their slot ranges, as CLUSTER NODES reports them on the first node. */
  async nodes(): Promise<ClusterNode[]> {
    const out = await this.cli('-p', String(this.servers[0].port), 'cluster', 'nodes');
    return out
      .trim()
      .split('\n')
      .filter((line) => line.includes('master'))
      .map((line) => {
        const parts = line.split(' ');
        const slots = parts
          .slice(8)
          .filter((p) => /^\d+(-\d+)?$/.test(p))
          .map((p) => {
            const [a, b] = p.split('-').map(Number);
            return [a, b ?? a] as [number, number];
          });
        return { id: parts[0], port: Number(parts[1].split(':')[1].split('@')[0]), slots };
      });
  }

  /** The master owning `slot`. */
  async owner(slot: number): Promise<ClusterNode> {
    const node = (await this.nodes()).find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!node) throw new Error(`no master owns slot ${slot}`);
    return node;
  }

  /**
   * `redis-cli --cluster reshard`: moves `slots` slots (with their keys, MIGRATE by MIGRATE) from
   * one master to another, as an operator would while the services run.
   */
  async reshard(from: ClusterNode, to: ClusterNode, slots: number): Promise<string> {
    return this.cli(
      '--cluster',
      'reshard',
      `127.0.0.1:${from.port}`,
      '--cluster-from',
      from.id,
      '--cluster-to',
      to.id,
      '--cluster-slots',
      String(slots),
      '--cluster-yes',
      '--cluster-pipeline',
      '100',
    );
  }

  async stop(): Promise<void> {
    untrack(this);
    for (const s of this.servers) await s.stop();
  }

  /** The test process is going away: kill every node and remove their data directories. */
  killNow(): void {
    for (const s of this.servers) {
      s.killNow();
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
}
