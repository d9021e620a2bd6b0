/**
 * A private `redis-server` on a free loopback port, for tests that stop, kill or delay Redis (the
 * shared one must never be touched). Needs the `redis-server` binary on PATH. A handle over
 * `RedisServer` (src/system/redis-server.ts), which the system tests use directly.
 */
import { RedisServer } from './system/redis-server';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts the server (again) on the same port and data directory; resolves once it answers. */
  start(): Promise<void>;
  /** SIGTERM (or `signal`) and wait for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** Append-only file on (survives kill -9 with `appendfsync always`). Default off. */
  appendOnly?: boolean;
  /** Start at once (default true). */
  start?: boolean;
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const server = await RedisServer.create({ appendOnly: opts.appendOnly });
  const handle: PrivateRedis = {
    port: server.port,
    url: server.url,
    start: () => server.start(),
    stop: (signal: NodeJS.Signals = 'SIGTERM') => server.kill(signal),
    dispose: () => server.stop(),
  };
  if (opts.start ?? true) await handle.start();
  return handle;
}
