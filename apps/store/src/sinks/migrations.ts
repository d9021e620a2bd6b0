import type { SqlClient } from '@mdp/sql';
import { BARS, FUNDAMENTALS, NEWS, OPTIONS, createTableSql, quote } from './tables';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'market data tables',
    statements: [
      createTableSql(BARS),
      createTableSql(OPTIONS),
      createTableSql(NEWS),
      `CREATE INDEX IF NOT EXISTS news_symbol_published_idx ON ${quote(NEWS.table)} (symbol, published_at DESC)`,
      createTableSql(FUNDAMENTALS),
    ],
  },
];

export interface MigrationReport {
  applied: number[];
  current: number;
  timescale: 'hypertable' | 'unavailable' | 'failed';
  timescaleError?: string;
}

export interface MigrationLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const LOCK_KEY = 731_884_201; // arbitrary: serialises concurrent store instances migrating one database

/**
 * Applies pending migrations (idempotent: every statement is IF NOT EXISTS and versions are recorded),
 * then upgrades bars_ohlcv to a compressed hypertable when TimescaleDB is available.
 */
export async function runMigrations(
  db: SqlClient,
  log?: MigrationLogger,
): Promise<MigrationReport> {
  const applied: number[] = [];
  await db.transaction(async (s) => {
    if (db.dialect === 'postgres') await s.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await s.query(
      'CREATE TABLE IF NOT EXISTS mds_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await s.query<{ version: number }>('SELECT version FROM mds_schema_migrations')).rows.map(
        (r) => Number(r.version),
      ),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const stmt of m.statements) await s.query(stmt);
      await s.query('INSERT INTO mds_schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
  });
  if (applied.length) log?.info({ applied }, 'migrations applied');
  const current = Math.max(...MIGRATIONS.map((m) => m.version));
  const ts = await enableTimescale(db, log);
  return { applied, current, ...ts };
}

async function enableTimescale(
  db: SqlClient,
  log?: MigrationLogger,
): Promise<Pick<MigrationReport, 'timescale' | 'timescaleError'>> {
  const available = await db.query(
    "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'",
  );
  if (available.rowCount === 0) {
    log?.info({}, 'TimescaleDB not available: bars_ohlcv stays a plain PostgreSQL table');
    return { timescale: 'unavailable' };
  }
  try {
    await db.transaction(async (s) => {
      await s.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      await s.query(
        `SELECT create_hypertable('${BARS.table}', 'ts', if_not_exists => TRUE, migrate_data => TRUE)`,
      );
      await s.query(
        `ALTER TABLE ${quote(BARS.table)} SET (timescaledb.compress, timescaledb.compress_segmentby = 'provider, symbol, "interval"', timescaledb.compress_orderby = 'ts DESC')`,
      );
      await s.query(
        `SELECT add_compression_policy('${BARS.table}', INTERVAL '7 days', if_not_exists => TRUE)`,
      );
    });
    log?.info({}, 'bars_ohlcv is a compressed TimescaleDB hypertable');
    return { timescale: 'hypertable' };
  } catch (err) {
    // e.g. the extension is packaged but not preloaded: plain PostgreSQL still works.
    const message = (err as Error).message;
    log?.warn(
      { err: message },
      'TimescaleDB available but could not be enabled; bars_ohlcv stays a plain table',
    );
    return { timescale: 'failed', timescaleError: message };
  }
}
