#!/usr/bin/env node
// `pnpm bench [name...]`: builds the workspace, then runs the named benchmarks (all when none given).
// Each benchmark prints its figures and writes bench/results/<name>.json.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCHES = {
  pulse: 'packages/pulse/bench/pulse.bench.ts',
  store: 'apps/store/bench/store.bench.ts',
  e2e: 'apps/pipeline/bench/e2e.bench.ts',
  'e2e-one-process': 'apps/pipeline/bench/e2e-one-process.bench.ts',
  feedback: 'apps/pipeline/bench/feedback.bench.ts',
  control: 'apps/orchestrator/bench/control.bench.ts',
  flow: 'apps/pipeline/bench/flow.bench.ts',
  scale: 'apps/store/bench/scale.bench.ts',
};

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((n) => !(n in BENCHES));
if (unknown.length) {
  console.error(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`,
  );
  process.exit(2);
}
const names = asked.length
  ? asked
  : Object.keys(BENCHES).filter((n) => existsSync(join(root, BENCHES[n])));

// Benchmarks run with the Node flags the services run with (infra/Dockerfile, apps' start scripts);
// `--no-allocation-site-pretenuring` is not allowed in NODE_OPTIONS, so it is passed to tsx below.
const env = {
  ...process.env,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=64`.trim(),
};
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env }).status ?? 1;

if (run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']) !== 0)
  process.exit(1);
let failed = 0;
for (const name of names) {
  const file = BENCHES[name];
  if (!existsSync(join(root, file))) {
    console.error(`[bench] ${name}: ${file} does not exist yet`);
    failed++;
    continue;
  }
  console.log(`\n[bench] ${name} (${file})`);
  // V8 flags outside NODE_OPTIONS's allow-list go on the command line (children forked by a bench inherit them).
  if (run('pnpm', ['exec', 'tsx', '--no-allocation-site-pretenuring', file]) !== 0) failed++;
}
process.exit(failed ? 1 : 0);
