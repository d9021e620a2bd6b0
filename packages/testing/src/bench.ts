/** Shared benchmark plumbing: machine facts, the bench/results/<name>.json file, a Redis probe. */
import { existsSync, mkdirSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { pingRedis } from './services';

export function benchMachine() {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    total_mem_gb: Math.round(os.totalmem() / 2 ** 30),
  };
}

function repoRoot(): string {
  let dir = __dirname;
  while (dir !== path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** Writes `bench/results/<name>.json` (figures + machine + timestamp) and returns its path. */
export function writeBenchResult(name: string, figures: Record<string, unknown>): string {
  const dir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const body = { name, ...figures, machine: benchMachine(), measured_at: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  return file;
}

/** Percentile of an unsorted sample (nearest-rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Whether Redis answers at `url`: benchmarks fall back to the in-memory bus when it does not. */
export async function redisAnswers(url: string): Promise<boolean> {
  try {
    await pingRedis(url);
    return true;
  } catch {
    return false;
  }
}

export type BenchBackend = 'redis' | 'inmem';

/**
 * Runs `measure` over Redis and then the in-memory bus, or in memory only (with a warning) when
 * Redis does not answer at `url`. `backend` is the one the headline figures come from.
 */
export async function measureBackends<F>(
  url: string,
  measure: (backend: BenchBackend, url: string) => Promise<F>,
): Promise<{ backend: BenchBackend; results: Partial<Record<BenchBackend, F>> }> {
  const redis = await redisAnswers(url);
  if (!redis) console.warn(`Redis at ${url} does not answer: measuring the in-memory bus only`);
  const results: Partial<Record<BenchBackend, F>> = {};
  for (const backend of redis ? (['redis', 'inmem'] as const) : (['inmem'] as const))
    results[backend] = await measure(backend, url);
  return { backend: redis ? 'redis' : 'inmem', results };
}
