/**
 * `pnpm start`'s launcher (infra/scripts/start.mjs), run as a user runs it: with STORE_PORT,
 * PIPELINE_PORT and ORCH_PORT on free ports, it prints the banner and all three services answer /health;
 * SIGTERM stops everything with exit code 0. Both modes: one process on the in-memory bus, and three
 * processes on Redis.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import Redis from 'ioredis';
import { once } from 'node:events';
import { join } from 'node:path';
import { createTestSchema, describeWithServices, freePort, redisUrl, TestSchema, uniqueId, deleteRedisPrefix } from '@mdp/testing';

const LAUNCHER = join(__dirname, '..', 'scripts', 'start.mjs');

function waitFor(child: ChildProcess, output: () => string, text: string, timeoutMs = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; output:\n${output()}`)), timeoutMs);
    const check = () => {
      if (output().includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited (${code}) before "${text}"; output:\n${output()}`));
    });
  });
}

describeWithServices('pnpm start (infra/scripts/start.mjs)', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema();
  });
  afterAll(() => schema?.drop());

  it.each(['inmem', 'redis'])('EVENT_BUS_BACKEND=%s: the three port variables place the services, the banner names them, SIGTERM exits 0', async (backend) => {
    const ports = { store: await freePort(), pipeline: await freePort(), orchestrator: await freePort() };
    const ns = uniqueId('start_');
    const child = spawn(process.execPath, [LAUNCHER], {
      env: {
        ...process.env,
        EVENT_BUS_BACKEND: backend,
        REDIS_URL: redisUrl(),
        DATABASE_URL: schema.url,
        MD_NAMESPACE: ns,
        STORE_PORT: String(ports.store),
        PIPELINE_PORT: String(ports.pipeline),
        ORCH_PORT: String(ports.orchestrator),
        // Would put all three on one port; the launcher must ignore it.
        PORT: String(ports.store),
        LOG_LEVEL: 'warn',
        MDS_DLQ_DIR: join(tmpdir(), ns),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await waitFor(child, () => out, 'Ctrl-C stops');
      expect(out).toContain('mdp is running');
      for (const [app, port] of Object.entries(ports)) {
        expect(out).toContain(`http://127.0.0.1:${port}/health`);
        expect(out).toContain(`http://127.0.0.1:${port}/metrics`);
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { service: string }).service).toBe(app);
      }
      expect(out).toContain(`curl -s http://127.0.0.1:${ports.store}/metrics | grep ^mds_coord_items_written_total`);
      expect(out).toContain('PORT=');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const redis = new Redis(redisUrl());
      await deleteRedisPrefix(redis, ns).finally(() => redis.quit());
    }
  }, 120_000);
});
