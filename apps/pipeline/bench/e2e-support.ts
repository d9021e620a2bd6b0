/**
 * What the two end-to-end benchmarks (`e2e.bench.ts`, separate processes; `e2e-one-process.bench.ts`)
 * share: the settings both services run with, and the commit watch that timestamps sampled rows.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BenchRun } from '@mdp/testing';

export const APPS_DIR = join(__dirname, '..', '..');
/** Loads from the store app's build and dependencies (another app: outside this package's type-check). */
export const storeRequire = createRequire(join(APPS_DIR, 'store', 'package.json'));

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The store's throughput settings, as in `pnpm bench store` (shipped with the store). */
export const STORE_TUNED = (
  storeRequire('./dist/config/throughput-settings') as {
    THROUGHPUT_SETTINGS: Record<string, string>;
  }
).THROUGHPUT_SETTINGS;

/** Pipeline batches of 500 records per XADD pipeline (the default 100 favours latency). */
export const PIPELINE_TUNED: Record<string, string> = {
  PIPELINE_BATCH_SIZE: '500',
  PIPELINE_BATCH_FLUSH_MS: '50',
};

/**
 * Calls `onCommit(ts)` when a row of `symbol` is committed to `bars_ohlcv` (`ts`: the bar's epoch
 * seconds): an AFTER INSERT trigger NOTIFYs, and NOTIFY is delivered at commit. Needs the store's
 * migrations to have run.
 */
export async function watchCommits(
  run: BenchRun,
  symbol: string,
  onCommit: (ts: number, committedAtMs: number) => void,
): Promise<void> {
  const channel = `${run.schema.schema}_written`;
  // A deferred constraint trigger runs as its row's transaction commits, so `clock_timestamp()` there
  // is the commit time on the host's clock (the one Redis stamps entry ids with), whatever delays
  // this process has in receiving the notification.
  await run.pg.query(`CREATE FUNCTION bench_notify_written() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('${channel}', extract(epoch FROM NEW.ts)::bigint::text || ' ' ||
        (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text); RETURN NULL; END $$`);
  await run.pg.query(`CREATE CONSTRAINT TRIGGER bench_sample_written AFTER INSERT ON bars_ohlcv
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW.symbol = '${symbol}') EXECUTE FUNCTION bench_notify_written()`);
  run.pg.on('notification', (msg) => {
    if (msg.channel !== channel || !msg.payload) return;
    const [ts, at] = msg.payload.split(' ');
    onCommit(Number(ts), Number(at));
  });
  await run.pg.query(`LISTEN "${channel}"`);
}

/** Rows in `bars_ohlcv`. */
export async function rowsInBars(run: BenchRun): Promise<number> {
  const res = await run.pg.query<{ n: string }>('SELECT count(*) AS n FROM bars_ohlcv');
  return Number(res.rows[0].n);
}
