/**
 * A private `redis-server` on a free loopback port, for tests that stop, kill or delay Redis (the
 * shared one must never be touched). Needs the `redis-server` binary on PATH.
 */
import { spawn, type ChildProcess } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { pingRedis } from './services';

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

/** A port the kernel just handed out, released for the caller to bind. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'private-redis-'));
  const url = `redis://127.0.0.1:${port}/0`;
  let child: ChildProcess | undefined;

  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(opts.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));

  const handle: PrivateRedis = {
    port,
    url,
    async start() {
      if (child) return;
      const proc = spawn('redis-server', args, { stdio: 'ignore' });
      child = proc;
      proc.once('exit', () => {
        if (child === proc) child = undefined;
      });
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await pingRedis(url);
          return;
        } catch (err) {
          if (!child || Date.now() > deadline) throw new Error(`private redis-server on ${port} did not start: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const proc = child;
      if (!proc) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill(signal);
      await exited;
      child = undefined;
    },
    async dispose() {
      await handle.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.start ?? true) await handle.start();
  return handle;
}
