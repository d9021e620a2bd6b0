import { join } from 'node:path';
import { freePort, REGISTER_TS, ServiceProcess, stopAll, uniqueId } from '@mdp/testing';

/** src/main.ts in a child process, from the TypeScript sources (no build needed). */
function startMain(env: Record<string, string>, port?: number): ServiceProcess {
  return ServiceProcess.start({
    name: 'orchestrator',
    script: join(__dirname, '../src/main.ts'),
    nodeArgs: ['-r', REGISTER_TS],
    env,
    port,
  });
}

afterEach(() => stopAll());

describe('process lifecycle (src/main.ts in a child process)', () => {
  it('serves /ready, then on SIGTERM stops cleanly with exit code 0', async () => {
    const port = await freePort();
    const proc = startMain(
      {
        PORT: String(port),
        EVENT_BUS_BACKEND: 'inmem',
        MD_NAMESPACE: uniqueId('orch_sig'),
        LOG_LEVEL: 'info',
        DATABASE_URL: '',
        ORCH_PGLITE_DIR: 'memory://',
      },
      port,
    );
    await proc.waitReady(20_000);
    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.text()).toContain('shut down cleanly');
  });

  it('a bad variable exits 1 naming it, without a stack trace', async () => {
    const proc = startMain({ PORT: 'eighty', LOG_LEVEL: 'silent' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.text()).toMatch(/orchestrator: invalid configuration:\n\s+- PORT: /);
    expect(proc.text()).not.toMatch(/\n\s+at /);
  });
});
