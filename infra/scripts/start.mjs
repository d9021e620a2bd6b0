#!/usr/bin/env node
// `pnpm start`: runs store, pipeline and orchestrator, then prints where to find them.
// - EVENT_BUS_BACKEND=inmem (the default) or PULSE_ENABLED=false: one process, one shared in-memory bus,
//   so the services still talk to each other; the store uses embedded PGlite unless DATABASE_URL is set.
// - EVENT_BUS_BACKEND=redis: one child process per service, as in production.
// Ports: STORE_PORT, PIPELINE_PORT, ORCH_PORT (defaults 8081, 8082, 8080). PORT is per process and would
// give all three services the same port, so it is ignored here.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// A larger young generation: the services allocate a batch of short-lived objects per read, and fewer
// scavenges of the batch in hand measured ~20 % more throughput (see packages/pulse/README.md).
const NODE_FLAGS = ['--max-semi-space-size=64', '--no-allocation-site-pretenuring'];
// --no-allocation-site-pretenuring: V8 otherwise starts allocating a decoded envelope's objects in the
// old generation, whose young children then outlive scavenges (packages/pulse/README.md); e2e commit
// latency p99 at 20 000/s 79 ms with it, 96 without (medians of 3 alternating pairs).
// The store holds tens of thousands of rows between the stream and the database: a small young
// generation and a capped old one keep it under 200 MB (apps/store/README.md "Memory").
const STORE_NODE_FLAGS = [
  '--max-semi-space-size=16',
  '--max-old-space-size=128',
  '--no-allocation-site-pretenuring',
];
const env = process.env;
const backend = env.EVENT_BUS_BACKEND ?? 'inmem';
const pulseEnabled = !/^(0|false|no|off)$/i.test(env.PULSE_ENABLED ?? 'true');
const multiProcess = backend === 'redis' && pulseEnabled;

/** Start order: the store first so it is consuming before the pipeline publishes; stopped in reverse. */
const SERVICES = [
  { app: 'store', portVar: 'STORE_PORT', defaultPort: 8081, nodeFlags: STORE_NODE_FLAGS },
  { app: 'pipeline', portVar: 'PIPELINE_PORT', defaultPort: 8082 },
  { app: 'orchestrator', portVar: 'ORCH_PORT', defaultPort: 8080 },
];

function portOf({ portVar, defaultPort }) {
  const raw = env[portVar];
  if (raw === undefined || raw.trim() === '') return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (multiProcess && port === 0)) {
    fail(`${portVar} must be a TCP port (${multiProcess ? '1' : '0'}-65535), got "${raw}"`);
  }
  return port;
}

function fail(message) {
  console.error(`[start] ${message}`);
  process.exit(2);
}

const ports = Object.fromEntries(SERVICES.map((s) => [s.app, portOf(s)]));
if (env.PORT)
  console.error(
    `[start] PORT=${env.PORT} is ignored: set STORE_PORT, PIPELINE_PORT and ORCH_PORT instead`,
  );
const taken = Object.entries(ports).filter(
  ([, p], i, all) => p !== 0 && all.findIndex(([, q]) => q === p) !== i,
);
if (taken.length)
  fail(
    `two services would listen on port ${taken[0][1]}: give STORE_PORT, PIPELINE_PORT and ORCH_PORT distinct values`,
  );

const running = multiProcess ? startProcesses() : await startInProcess();
await printBanner(await running.ports());

/** One child per service; their logs go straight to this terminal. */
function startProcesses() {
  let stopping = false;
  let failed = false;
  const children = SERVICES.map(({ app, nodeFlags = NODE_FLAGS }) => {
    const child = spawn(
      process.execPath,
      [...nodeFlags, join(root, 'apps', app, 'dist', 'main.js')],
      {
        stdio: 'inherit',
        env: { ...env, PORT: String(ports[app]) },
      },
    );
    child.on('exit', (code, signal) => {
      if (!stopping || code !== 0) failed = true;
      if (!stopping)
        console.error(`[start] ${app} exited (${signal ?? code}); stopping the others`);
      shutdown();
      if (children.every((c) => c.exitCode !== null || c.signalCode !== null))
        process.exit(failed ? 1 : 0);
    });
    return child;
  });
  // One SIGTERM per child: a second one would cut its drain short.
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return {
    ports: async () => {
      await Promise.all(SERVICES.map(({ app }) => waitForHealth(ports[app])));
      return ports;
    },
  };
}

/** Every service in this process on one in-memory bus. */
async function startInProcess() {
  const requireFrom = (app) => createRequire(join(root, 'apps', app, 'package.json'));
  const { createEventBus } = requireFrom('store')('@mdp/pulse');
  const bus = createEventBus({
    backend: 'inmem',
    namespace: env.MD_NAMESPACE || 'mdp',
    track: env.SCHEMA_TRACK || 'v1',
    publisherToken: env.PUBLISHER_TOKEN || undefined,
  });
  const handles = [];
  for (const { app } of SERVICES) {
    const { bootstrap } = requireFrom(app)(join(root, 'apps', app, 'dist', 'bootstrap.js'));
    handles.push(await bootstrap({ bus, handleSignals: false, port: ports[app] }));
  }
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    // Pipeline first so no new data arrives while the store drains.
    let code = 0;
    for (const handle of [...handles].reverse()) {
      await handle.close().catch((err) => {
        console.error(err);
        code = 1;
      });
    }
    await bus.close();
    process.exit(code);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return {
    ports: async () =>
      Object.fromEntries(
        SERVICES.map(({ app }, i) => [app, handles[i].app.getHttpServer().address().port]),
      ),
  };
}

async function waitForHealth(port, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      fail(`nothing answers on http://127.0.0.1:${port}/health after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function answers(url) {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

async function printBanner(bound) {
  const url = (app, path = '') => `http://127.0.0.1:${bound[app]}${path}`;
  const ns = env.MD_NAMESPACE || 'mdp';
  const mode = multiProcess
    ? `three processes on Redis (${env.REDIS_URL ?? 'redis://localhost:6379/0'}, namespace ${ns})`
    : 'one process on the in-memory bus';
  const database = env.DATABASE_URL
    ? 'PostgreSQL (DATABASE_URL)'
    : 'embedded PGlite (.data/store/pglite)';
  const lines = [
    '',
    `mdp is running: ${mode}; the store writes to ${database}`,
    '',
    ...((await answers(url('orchestrator', '/')))
      ? [`  cockpit        ${url('orchestrator', '/')}`]
      : []),
    ...SERVICES.map(
      ({ app }) => `  ${app.padEnd(13)}  ${url(app, '/health')}   ${url(app, '/metrics')}`,
    ),
    '',
    '  bars being written:',
    `    curl -s ${url('store', '/metrics')} | grep ^mds_coord_items_written_total`,
    ...(multiProcess
      ? [`    pnpm mdp tail md.bars        (decoded envelopes on ${ns}.md.bars, live)`]
      : []),
    '',
    '  Ctrl-C stops every service (they drain first).',
    '',
  ];
  // On a terminal the banner follows the logs; otherwise stdout carries JSON lines only, so it goes to stderr.
  (process.stdout.isTTY ? process.stdout : process.stderr).write(lines.join('\n') + '\n');
}
