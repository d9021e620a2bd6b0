export type { QueryResult, SqlClient, SqlSession } from './sql-client';
export { PgSqlClient, type PgClientOptions } from './pg-client';
export { PgliteSqlClient } from './pglite-client';
