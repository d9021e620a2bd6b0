import type { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import type { QueryResult, SqlClient, SqlSession } from './sql-client';

type Queryable = Pick<PGlite, 'query'>;

async function run<R>(db: Queryable, sql: string, params?: unknown[]): Promise<QueryResult<R>> {
  const res = await db.query<R>(sql, params);
  return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
}

/**
 * Embedded PostgreSQL (PGlite, WASM) for running without a server. It has no COPY FROM STDIN stream,
 * so sinks use their unnest path here. One connection: PGlite serialises queries itself.
 */
export class PgliteSqlClient implements SqlClient {
  readonly dialect = 'pglite' as const;
  private readonly memo = new Set<string>();

  private constructor(readonly db: PGlite) {}

  /** `dataDir`: a directory for a persistent database, or `memory://` (the default) for a throwaway one. */
  static async open(dataDir = 'memory://'): Promise<PgliteSqlClient> {
    // Loaded lazily (and with require, so it also works in CommonJS test runners): the WASM module is
    // large and only needed in embedded mode.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
    // PGlite creates only the last path segment; a fresh checkout has none of its parents.
    if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir);
    return new PgliteSqlClient(db);
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.db, sql, params);
  }

  transaction<X>(fn: (session: SqlSession) => Promise<X>): Promise<X> {
    return this.db.transaction((tx) =>
      fn({ memo: this.memo, query: (sql, params) => run(tx, sql, params) }),
    );
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
