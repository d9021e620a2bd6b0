#!/usr/bin/env node
// `pnpm start`: runs store, pipeline and orchestrator.
// - EVENT_BUS_BACKEND=inmem (the default) or PULSE_ENABLED=false: one process, one shared in-memory bus,
//   so the services still talk to each other; the store uses embedded PGlite unless DATABASE_URL is set.
// - EVENT_BUS_BACKEND=redis: one child process per service, as in production.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APPS = ['store', 'pipeline', 'orchestrator'];
// A larger young generation: the services allocate a batch of short-lived objects per read, and fewer
// scavenges of the batch in hand measured ~20 % more throughput (see packages/pulse/README.md).
const NODE_FLAGS = ['--max-semi-space-size=64'];
const backend = process.env.EVENT_BUS_BACKEND ?? 'inmem';
const pulseEnabled = !/^(0|false|no|off)$/i.test(process.env.PULSE_ENABLED ?? 'true');

if (backend === 'redis' && pulseEnabled) {
  const children = APPS.map((app) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, join(root, 'apps', app, 'dist', 'main.js')], { stdio: 'inherit', env: process.env });
    child.on('exit', (code, signal) => {
      console.error(`[start] ${app} exited (${signal ?? code})`);
      shutdown('SIGTERM');
    });
    return child;
  });
  let stopping = false;
  const shutdown = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGTERM'));
} else {
  const requireFrom = (app) => createRequire(join(root, 'apps', app, 'package.json'));
  const { createEventBus } = requireFrom('store')('@mdp/pulse');
  const bus = createEventBus({
    backend: 'inmem',
    namespace: process.env.MD_NAMESPACE ?? 'mdp',
    track: process.env.SCHEMA_TRACK ?? 'v1',
    publisherToken: process.env.PUBLISHER_TOKEN || undefined,
  });
  const apps = [];
  for (const app of APPS) {
    const { bootstrap } = requireFrom(app)(join(root, 'apps', app, 'dist', 'bootstrap.js'));
    apps.push(await bootstrap({ bus, handleSignals: false }));
  }
  // The bound addresses (PORT=0 gives each service a free port): tests read them from this line.
  const [store, pipeline, orchestrator] = apps;
  console.log(
    `[start] store ${store.url}, pipeline ${pipeline.url}, orchestrator http://127.0.0.1:${orchestrator.port} running in one process on the in-memory bus (Ctrl-C stops)`,
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    // Pipeline first so no new data arrives while the store drains.
    for (const app of [...apps].reverse()) await app.close().catch((e) => console.error(e));
    await bus.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
