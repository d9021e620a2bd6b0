import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { freePort, REGISTER_TS, uniqueId } from '@mdp/testing';
import { until } from './helpers';

describe('process lifecycle (src/main.ts in a child process)', () => {
  it('serves /ready, then on SIGTERM stops cleanly with exit code 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['-r', REGISTER_TS, join(__dirname, '../src/main.ts')], {
      env: {
        ...process.env,
        PORT: String(port),
        EVENT_BUS_BACKEND: 'inmem',
        MD_NAMESPACE: uniqueId('orch_sig'),
        LOG_LEVEL: 'info',
        DATABASE_URL: '',
        ORCH_PGLITE_DIR: 'memory://',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = once(child, 'exit');
    try {
      await until(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`orchestrator exited early (${child.exitCode}):\n${output}`);
          const res = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
          return res?.ok ? true : undefined;
        },
        'GET /ready to answer 200',
        20_000,
      );
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(output).toContain('shut down cleanly');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a bad variable exits 1 naming it, without a stack trace', async () => {
    const child = spawn(process.execPath, ['-r', REGISTER_TS, join(__dirname, '../src/main.ts')], {
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr).toMatch(/orchestrator: invalid configuration:\n\s+- PORT: /);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
