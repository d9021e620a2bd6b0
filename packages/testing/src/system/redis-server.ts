import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import net from 'net';
import { Stoppable, track, untrack } from './cleanup';
import { freePort } from './ports';
import { waitFor } from './wait';

export interface RedisServerOptions {
  /** Default: a free port. */
  port?: number;
  /** Append-only file with fsync on every write, so a SIGKILL loses no acknowledged write. */
  appendOnly?: boolean;
  /** `redis-server` binary (default from PATH). */
  binary?: string;
}

/**
 * A private `redis-server` on a free loopback port with its own data directory: for tests that kill
 * Redis, start services before it, or must not disturb the shared server. `start()` can come later
 * than `create()`, so services can be pointed at a Redis that is not there yet.
 */
export class RedisServer implements Stoppable {
  readonly dir: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly opts: RedisServerOptions,
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'mdp-redis-'));
  }

  /** Reserves a port and a data directory without starting the server. */
  static async create(opts: RedisServerOptions = {}): Promise<RedisServer> {
    return track(new RedisServer(opts.port ?? (await freePort()), opts));
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.create(opts);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (or restarts, on the same port and data) and waits until it answers PING. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.child) return;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
    ];
    args.push(
      ...(this.opts.appendOnly
        ? ['--appendonly', 'yes', '--appendfsync', 'always']
        : ['--appendonly', 'no']),
    );
    const child = spawn(this.opts.binary ?? 'redis-server', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      const done = () => {
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once('exit', done);
      child.once('error', (err) => {
        this.output += `\n[spawn error] ${err.message}`;
        done();
      });
    });
    await waitFor(
      async () => {
        if (!this.child) throw new Error(`redis-server exited: ${this.output.slice(-500)}`);
        return answersPing(this.port);
      },
      {
        timeoutMs,
        what: `redis-server on port ${this.port}`,
        detail: () => this.output.slice(-1000),
      },
    );
  }

  /** Sends `signal` (SIGKILL: no shutdown, no final save) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const exited = this.exited;
    this.child?.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    untrack(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}

/** One inline PING over a plain socket (a client library would keep reconnect timers around). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
