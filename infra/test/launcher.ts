/** Runs `pnpm start`'s launcher (infra/scripts/start.mjs) as a child process for a test. */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisUrl, uniqueId } from '@mdp/testing';

export const LAUNCHER = join(__dirname, '..', 'scripts', 'start.mjs');
export type Ports = { store: number; pipeline: number; orchestrator: number };

export interface RunningLauncher {
  child: ChildProcess;
  ports: Ports;
  namespace: string;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the launcher on free ports and resolves once it printed its banner. */
export async function startLauncher(
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<RunningLauncher> {
  const ports: Ports = {
    store: await freePort(),
    pipeline: await freePort(),
    orchestrator: await freePort(),
  };
  const namespace = uniqueId('start_');
  const child = spawn(process.execPath, [LAUNCHER], {
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      MD_NAMESPACE: namespace,
      STORE_PORT: String(ports.store),
      PIPELINE_PORT: String(ports.pipeline),
      ORCH_PORT: String(ports.orchestrator),
      LOG_LEVEL: 'warn',
      MDS_DLQ_DIR: join(tmpdir(), namespace),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const running: RunningLauncher = {
    child,
    ports,
    namespace,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      return code as number | null;
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no banner within ${timeoutMs} ms`), timeoutMs);
    const check = () => {
      if (!out.includes('Ctrl-C stops')) return;
      clearTimeout(timer);
      resolve();
    };
    const fail = (why: string) => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      reject(new Error(`${why}; launcher output:\n${out}`));
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => fail(`launcher exited (${code}) before its banner`));
  });
  return running;
}
