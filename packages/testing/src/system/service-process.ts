import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { startScriptFlags } from '../proc-stats';
import { MetricSample, parsePrometheus, sumMetric } from './prometheus';
import { Stoppable, track, untrack } from './cleanup';
import { freePort } from './ports';
import { waitFor } from './wait';

/** The HTTP face every service shares: `/health`, `/ready`, `/metrics`. */
export class ServiceEndpoint {
  constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  async get(path: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
    return this.request(path, {}, timeoutMs);
  }

  async request(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    timeoutMs = 3000,
  ): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.url}${path}`, {
      ...init,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }

  /** HTTP status of `/ready`, or 0 when nothing answers. */
  async readyStatus(): Promise<number> {
    try {
      return (await this.get('/ready')).status;
    } catch {
      return 0;
    }
  }

  async health(): Promise<{
    status: number;
    body: {
      state: string;
      components: Array<{ name: string; state: string; details: Record<string, string> }>;
    };
  }> {
    const { status, body } = await this.get('/health');
    return { status, body: JSON.parse(body) };
  }

  async metrics(): Promise<MetricSample[]> {
    const { status, body } = await this.get('/metrics');
    if (status !== 200) throw new Error(`${this.name} /metrics answered ${status}`);
    return parsePrometheus(body);
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  /** Resident memory from `process_resident_memory_bytes`, in MB. */
  async rssMb(): Promise<number> {
    return Math.round((await this.metric('process_resident_memory_bytes')) / 2 ** 20);
  }

  async waitReady(timeoutMs = 20_000, detail?: () => string): Promise<void> {
    await waitFor(async () => (await this.readyStatus()) === 200, {
      timeoutMs,
      what: `${this.name} /ready = 200`,
      detail,
    });
  }
}

export interface ServiceProcessOptions {
  /** For logs and errors. */
  name: string;
  /** The built entry point (`apps/<service>/dist/main.js`, a launcher...). */
  script: string;
  args?: string[];
  /** The process's whole environment on top of PATH/HOME: nothing leaks from the test's own. */
  env: Record<string, string | undefined>;
  /** The port the service listens on (given in `env` as PORT); omit when the script prints its own. */
  port?: number;
  nodeArgs?: string[];
  /** Output lines kept for diagnostics. */
  keepLines?: number;
}

export interface AppProcessOptions {
  name?: string;
  env: Record<string, string | undefined>;
  /** Instead of the flags of the app's `start` script. */
  nodeArgs?: string[];
  extraNodeArgs?: string[];
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const BASE_ENV_KEYS = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

/**
 * A service running as its own Node process, as deployed: started from its built `dist`, with an
 * environment of its own, its output kept (last lines) for failure reports, and signals on demand.
 */
export class ServiceProcess implements Stoppable {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  readonly http?: ServiceEndpoint;
  private readonly lines: string[] = [];
  /** Lines printed so far, including those no longer kept. */
  private printed = 0;
  private partial = '';
  private exit?: ExitStatus;

  private constructor(readonly opts: ServiceProcessOptions) {
    const env: Record<string, string> = {};
    for (const key of BASE_ENV_KEYS)
      if (process.env[key] !== undefined) env[key] = process.env[key]!;
    for (const [key, value] of Object.entries(opts.env)) if (value !== undefined) env[key] = value;
    this.child = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), opts.script, ...(opts.args ?? [])],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout!.on('data', (chunk: Buffer) => this.collect(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => this.collect(chunk));
    // SERVICE_LOG_DIR keeps each process's whole output (e.g. a service's --trace-gc during a bench).
    const logDir = process.env.SERVICE_LOG_DIR;
    if (logDir) {
      fs.mkdirSync(logDir, { recursive: true });
      const file = fs.createWriteStream(path.join(logDir, `${opts.name}-${this.child.pid}.log`));
      this.child.stdout!.pipe(file, { end: false });
      this.child.stderr!.pipe(file, { end: false });
      this.child.once('close', () => file.end());
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        untrack(this);
        resolve(this.exit);
      });
      this.child.once('error', (err) => {
        this.lines.push(`[spawn error] ${err.message}`);
        this.exit = { code: -1, signal: null };
        untrack(this);
        resolve(this.exit);
      });
    });
    if (opts.port !== undefined)
      this.http = new ServiceEndpoint(opts.name, `http://127.0.0.1:${opts.port}`);
  }

  static start(opts: ServiceProcessOptions): ServiceProcess {
    return track(new ServiceProcess(opts));
  }

  /**
   * Starts an app as it is deployed: `<appDir>/dist/main.js` with the Node flags of its `start`
   * script (`nodeArgs` replaces them, `extraNodeArgs` adds to them), on a free port given as PORT.
   */
  static async startApp(appDir: string, opts: AppProcessOptions): Promise<ServiceProcess> {
    const port = await freePort();
    return ServiceProcess.start({
      name: opts.name ?? path.basename(appDir),
      script: path.join(appDir, 'dist', 'main.js'),
      nodeArgs: [...(opts.nodeArgs ?? startScriptFlags(appDir)), ...(opts.extraNodeArgs ?? [])],
      port,
      env: { ...opts.env, PORT: String(port) },
    });
  }

  get name(): string {
    return this.opts.name;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The endpoint (throws for a process started without a port). */
  get endpoint(): ServiceEndpoint {
    if (!this.http) throw new Error(`${this.name} was started without a port`);
    return this.http;
  }

  /** The last output lines, prefixed with the process name (for failure messages). */
  output(lines = 40): string {
    return this.lines
      .slice(-lines)
      .map((l) => `[${this.name}] ${l}`)
      .join('\n');
  }

  /** A position in the output, for `linesSince`. */
  mark(): number {
    return this.printed;
  }

  /** The lines printed after `mark` (as far as they are still kept). */
  linesSince(mark: number): string[] {
    const count = this.printed - mark;
    return count <= 0 ? [] : this.lines.slice(-Math.min(count, this.lines.length));
  }

  /** Everything kept of the output, as printed (stdout and stderr interleaved). */
  text(): string {
    return this.lines.join('\n');
  }

  /** Resolves with the first match of `pattern` in the output (past or future). */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return waitFor(
      () =>
        this.findLine(pattern) ??
        (this.exit
          ? Promise.reject(new Error(`${this.name} exited (${describeExit(this.exit)})`))
          : undefined),
      {
        timeoutMs,
        what: `${this.name} to print ${pattern}`,
        detail: () => this.output(),
      },
    );
  }

  findLine(pattern: RegExp): RegExpMatchArray | undefined {
    for (const line of this.lines) {
      const m = line.match(pattern);
      if (m) return m;
    }
    return undefined;
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    await this.endpoint.waitReady(timeoutMs, () => this.output());
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    this.kill('SIGKILL');
  }

  private collect(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.lines.push(line);
    this.printed += parts.length;
    const keep = this.opts.keepLines ?? 500;
    if (this.lines.length > keep) this.lines.splice(0, this.lines.length - keep);
  }
}

export function describeExit(exit: ExitStatus): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
