/**
 * The little SQL surface the sinks and migrations need, so the same statements run on a PostgreSQL
 * server (pg) and on embedded PGlite. Only the server client can stream COPY.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** COPY ... FROM STDIN with `data` as the payload (text, or binary COPY format); absent when the client cannot stream COPY. */
  copyFrom?(sql: string, data: string | Buffer): Promise<void>;
  /** Per-connection memo (e.g. "temp staging table exists"); lives as long as the connection. */
  readonly memo: Set<string>;
}

export interface SqlClient extends Omit<SqlSession, 'memo'> {
  readonly dialect: 'postgres' | 'pglite';
  /** Runs `fn` inside BEGIN/COMMIT on one connection; rolls back when it throws. */
  transaction<X>(fn: (session: SqlSession) => Promise<X>): Promise<X>;
  close(): Promise<void>;
}
