import type { SqlClient, SqlSession } from './sql-client';
import { Row, TableSpec, quote } from './tables';

export interface UpsertOptions {
  /** Batches at least this large go through COPY into a staging table (server only). */
  copyMinRows: number;
}

export interface UpsertResult {
  /** Rows after in-batch de-duplication. */
  rows: number;
  /** Rows inserted or actually changed (identical replays change nothing). */
  changed: number;
  method: 'copy' | 'unnest';
}

interface Statements {
  unnest: string;
  staging: string;
  createStaging: string;
  copy: string;
  fromStaging: string;
}

const cache = new WeakMap<TableSpec, Statements>();

/** Last row wins per natural key: ON CONFLICT cannot touch the same row twice in one statement. */
export function dedupeByKey(spec: TableSpec, rows: readonly Row[]): Row[] {
  const keyCols = spec.columns.filter((c) => spec.key.includes(c.name));
  if (rows.length < 2) return [...rows];
  const byKey = new Map<string, Row>();
  for (const row of rows) byKey.set(keyCols.map((c) => String(c.read(row))).join('\u0001'), row);
  return byKey.size === rows.length ? [...rows] : [...byKey.values()];
}

function statements(spec: TableSpec): Statements {
  const hit = cache.get(spec);
  if (hit) return hit;
  const cols = spec.columns;
  const names = cols.map((c) => quote(c.name)).join(', ');
  const selected = cols.map((c, i) => (c.convert ? c.convert(`u.c${i}`) : `u.c${i}`)).join(', ');
  const valueCols = cols.filter((c) => !spec.key.includes(c.name)).map((c) => quote(c.name));
  const conflict =
    `ON CONFLICT (${spec.key.map(quote).join(', ')}) DO UPDATE SET ` +
    [...valueCols.map((c) => `${c} = EXCLUDED.${c}`), 'updated_at = now()'].join(', ') +
    ` WHERE (${valueCols.map((c) => `t.${c}`).join(', ')}) IS DISTINCT FROM (${valueCols.map((c) => `EXCLUDED.${c}`).join(', ')})`;
  const insert = (source: string) => `INSERT INTO ${quote(spec.table)} AS t (${names}) SELECT ${selected} FROM ${source} ${conflict}`;
  const staging = `mds_stage_${spec.table}`;
  const aliases = cols.map((_, i) => `c${i}`).join(', ');
  const built: Statements = {
    unnest: insert(`unnest(${cols.map((c, i) => `$${i + 1}::${c.wire}[]`).join(', ')}) AS u(${aliases})`),
    staging,
    createStaging: `CREATE TEMP TABLE IF NOT EXISTS ${staging} (${cols.map((c, i) => `c${i} ${c.wire}`).join(', ')}) ON COMMIT DELETE ROWS`,
    copy: `COPY ${staging} (${aliases}) FROM STDIN`,
    fromStaging: insert(`${staging} AS u`),
  };
  cache.set(spec, built);
  return built;
}

/** Diff-aware idempotent upsert of contract rows into `spec.table`. */
export async function upsertRows(db: SqlClient, spec: TableSpec, input: readonly Row[], opts: UpsertOptions): Promise<UpsertResult> {
  const rows = dedupeByKey(spec, input);
  if (rows.length === 0) return { rows: 0, changed: 0, method: 'unnest' };
  const sql = statements(spec);
  if (rows.length >= opts.copyMinRows && db.dialect === 'postgres') {
    const viaCopy = await db.transaction(async (session) => {
      if (!session.copyFrom) return undefined;
      return copyUpsert(session, spec, sql, rows);
    });
    if (viaCopy !== undefined) return { rows: rows.length, changed: viaCopy, method: 'copy' };
  }
  const columns = spec.columns.map((c) => rows.map((r) => c.read(r)));
  const res = await db.query(sql.unnest, columns);
  return { rows: rows.length, changed: res.rowCount, method: 'unnest' };
}

async function copyUpsert(session: SqlSession, spec: TableSpec, sql: Statements, rows: Row[]): Promise<number> {
  try {
    if (!session.memo.has(sql.staging)) {
      await session.query(sql.createStaging);
      session.memo.add(sql.staging);
    }
    await session.copyFrom!(sql.copy, toCopyText(spec, rows));
    const res = await session.query(sql.fromStaging);
    return res.rowCount;
  } catch (err) {
    // A failed transaction may have rolled back the staging table's creation.
    session.memo.delete(sql.staging);
    throw err;
  }
}

/** COPY text format: tab-separated, `\N` for NULL, backslash escapes. */
export function toCopyText(spec: TableSpec, rows: readonly Row[]): string {
  const cols = spec.columns;
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < cols.length; i++) {
      if (i > 0) out += '\t';
      out += copyValue(cols[i].read(row));
    }
    out += '\n';
  }
  return out;
}

function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return String(v);
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}
