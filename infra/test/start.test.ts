/**
 * `pnpm start`'s launcher, run as a user runs it: with STORE_PORT, PIPELINE_PORT and ORCH_PORT on free
 * ports it prints the banner and all three services answer /health; SIGTERM stops everything with exit
 * code 0. Both modes: one process on the in-memory bus, and three processes on Redis.
 */
import Redis from 'ioredis';
import {
  createTestSchema,
  deleteRedisPrefix,
  describeWithServices,
  redisUrl,
  TestSchema,
} from '@mdp/testing';
import { startLauncher } from './launcher';

describeWithServices('pnpm start (infra/scripts/start.mjs)', () => {
  let schema: TestSchema;
  beforeAll(async () => {
    schema = await createTestSchema();
  });
  afterAll(() => schema?.drop());

  it.each(['inmem', 'redis'])(
    'EVENT_BUS_BACKEND=%s: the three port variables place the services, the banner names them, SIGTERM exits 0',
    async (backend) => {
      // PORT would put all three services on one port; the launcher must ignore it.
      const launcher = await startLauncher({
        EVENT_BUS_BACKEND: backend,
        DATABASE_URL: schema.url,
        PORT: '1',
      });
      try {
        const out = launcher.output();
        expect(out).toContain('mdp is running');
        expect(out).toContain('PORT=1 is ignored');
        for (const [app, port] of Object.entries(launcher.ports)) {
          expect(out).toContain(`http://127.0.0.1:${port}/health`);
          expect(out).toContain(`http://127.0.0.1:${port}/metrics`);
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          expect(res.status).toBe(200);
          expect(((await res.json()) as { service: string }).service).toBe(app);
        }
        expect(out).toContain(`cockpit        http://127.0.0.1:${launcher.ports.orchestrator}/`);
        expect(out).toContain(
          `curl -s http://127.0.0.1:${launcher.ports.store}/metrics | grep ^mds_coord_items_written_total`,
        );
        expect(await launcher.stop()).toBe(0);
      } finally {
        await launcher.stop();
        const redis = new Redis(redisUrl());
        await deleteRedisPrefix(redis, launcher.namespace).finally(() => redis.quit());
      }
    },
    120_000,
  );
});
