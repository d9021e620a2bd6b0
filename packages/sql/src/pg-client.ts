import { DatabaseError, Pool, PoolClient, PoolConfig } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'stream/promises';
import { Readable } from 'stream';
import type { QueryResult, SqlClient, SqlSession } from './sql-client';

export interface PgClientOptions {
  connectionString: string;
  maxConnections?: number;
  /** Server-side statement timeout; a hung statement becomes a retryable error instead of a stuck worker. */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

const memos = new WeakMap<PoolClient, Set<string>>();

async function copyOn(client: PoolClient, sql: string, data: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from([data]), stream);
}

function sessionFor(client: PoolClient): SqlSession {
  let memo = memos.get(client);
  if (!memo) memos.set(client, (memo = new Set()));
  return {
    memo,
    async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      const res = await client.query(sql, params as unknown[]);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    copyFrom: (sql, data) => copyOn(client, sql, data),
  };
}

/** PostgreSQL server client over a pg Pool. */
export class PgSqlClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  readonly pool: Pool;

  constructor(opts: PgClientOptions) {
    const config: PoolConfig = {
      connectionString: opts.connectionString,
      max: opts.maxConnections ?? 8,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      idleTimeoutMillis: 30_000,
    };
    this.pool = new Pool(config);
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async query<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<R>> {
    const res = await this.pool.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  /**
   * One COPY as its own transaction: two round trips (COPY, then its data), where BEGIN / COPY /
   * COMMIT take four. A COPY is one statement, so it commits all of its rows or none.
   */
  async copyFrom(sql: string, data: string | Buffer): Promise<void> {
    const client = await this.pool.connect();
    try {
      await copyOn(client, sql, data);
      client.release();
    } catch (err) {
      // A COPY the server rejected leaves the connection usable; one that broke mid-stream does not.
      client.release(!(err instanceof DatabaseError));
      throw err;
    }
  }

  async transaction<X>(fn: (session: SqlSession) => Promise<X>): Promise<X> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(sessionFor(client));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
