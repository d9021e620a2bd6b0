export type { QueryResult, SqlClient, SqlSession } from './sql-client';
export { PgSqlClient, isServerError, type PgClientOptions } from './pg-client';
export { PgliteSqlClient } from './pglite-client';
