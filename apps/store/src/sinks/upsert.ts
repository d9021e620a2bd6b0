import type { SqlClient, SqlSession } from '@mdp/sql';
import { isRetryableDbError } from './errors';
import {
  CopyBuffer,
  CopyBufferPool,
  binaryEncoderFor,
  endCopyData,
  startCopyData,
} from './copy-binary';
import { PG_EPOCH_OFFSET_SEC, pgMicros } from './pg-time';
import { Row, TableSpec, quote } from './tables';

/**
 * From ~50 rows COPY beats a multi-row INSERT (PostgreSQL 15 here, median of 30 writes of bars:
 * 200 rows 4.7 vs 7.3 ms, 1000 rows 14.5 vs 30.1 ms); below, the INSERT's one round trip wins.
 */
export const DEFAULT_COPY_MIN_ROWS = 50;

export interface UpsertOptions {
  /** Batches at least this large go through COPY (server only). */
  copyMinRows: number;
}

export interface UpsertResult {
  /** Rows after in-batch de-duplication. */
  rows: number;
  /** Rows inserted or actually changed (identical replays change nothing). */
  changed: number;
  /** `insert`: COPY straight into the table (all rows new); `copy`: COPY → staging → upsert. */
  method: 'insert' | 'copy' | 'unnest';
}

interface Statements {
  unnest: string;
  staging: string;
  createStaging: string;
  copy: string;
  fromStaging: string;
  direct: string;
  directBinary: string;
}

const cache = new WeakMap<TableSpec, Statements>();

interface RowCodec {
  /** Natural-key string of a row. */
  key: (row: Row) => string;
  /** One COPY text line (with the newline) in wire form, for the staging table. */
  copyLine: (row: Row) => string;
  /** One COPY text line in stored form (timestamps as ISO text), for the table itself. */
  directLine: (row: Row) => string;
}

const codecs = new WeakMap<TableSpec, RowCodec>();

/**
 * Per-table row functions generated once from the column list: the COPY and de-duplication paths
 * run for every row at 100k+ rows/s, where generic per-column closures cost several times more.
 */
function codecFor(spec: TableSpec): RowCodec {
  const hit = codecs.get(spec);
  if (hit) return hit;
  const value = (i: number) => {
    const c = spec.columns[i];
    return c.field ? `row[${JSON.stringify(c.field)}]` : `cols[${i}].read(row)`;
  };
  const keyExpr = spec.columns
    .map((c, i) => (spec.key.includes(c.name) ? `String(${value(i)})` : null))
    .filter((e): e is string => e !== null)
    .join(` + '\\u0001' + `);
  const line = (direct: boolean) =>
    spec.columns
      .map((c, i) => {
        const text =
          direct && c.instant ? 'instant(v)' : `(typeof v === 'number' ? '' + v : esc(v))`;
        return `v = ${value(i)}; out += ${i === 0 ? '' : `'\\t' + `}(v === null || v === undefined ? '\\\\N' : ${text});`;
      })
      .join('\n');
  const fn = (body: string) => `(row) => { let out = ''; let v; ${body} return out + '\\n'; }`;
  const make = new Function(
    'cols',
    'esc',
    'instant',
    `return { key: (row) => ${keyExpr}, copyLine: ${fn(line(false))}, directLine: ${fn(line(true))} };`,
  );
  const codec = make(spec.columns, copyEscape, epochToTimestamptzText) as RowCodec;
  codecs.set(spec, codec);
  return codec;
}

/** Last row wins per natural key: ON CONFLICT cannot touch the same row twice in one statement. */
export function dedupeByKey(spec: TableSpec, rows: readonly Row[]): Row[] {
  if (rows.length < 2) return [...rows];
  const { key } = codecFor(spec);
  const byKey = new Map<string, Row>();
  for (const row of rows) byKey.set(key(row), row);
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
  const insert = (source: string) =>
    `INSERT INTO ${quote(spec.table)} AS t (${names}) SELECT ${selected} FROM ${source} ${conflict}`;
  const staging = `mds_stage_${spec.table}`;
  const aliases = cols.map((_, i) => `c${i}`).join(', ');
  const built: Statements = {
    unnest: insert(
      `unnest(${cols.map((c, i) => `$${i + 1}::${c.wire}[]`).join(', ')}) AS u(${aliases})`,
    ),
    staging,
    createStaging: `CREATE TEMP TABLE IF NOT EXISTS ${staging} (${cols.map((c, i) => `c${i} ${c.wire}`).join(', ')}) ON COMMIT DELETE ROWS`,
    copy: `COPY ${staging} (${aliases}) FROM STDIN`,
    fromStaging: insert(`${staging} AS u`),
    direct: `COPY ${quote(spec.table)} (${names}) FROM STDIN`,
    directBinary: `COPY ${quote(spec.table)} (${names}) FROM STDIN WITH (FORMAT binary)`,
  };
  cache.set(spec, built);
  return built;
}

/**
 * After a batch of a table turned out to hold existing rows, skip the insert-only attempt for this
 * many batches of that table (replays come in runs).
 */
const FAST_PATH_COOLDOWN = 20;
const fastPathSkips = new WeakMap<TableSpec, number>();
const copyBuffers = new CopyBufferPool();

/**
 * Rows the caller already holds as COPY binary tuples (the store encodes bars as it reads them, so
 * it need not keep their objects while they wait): the insert-only COPY sends the tuples as they are;
 * the fallbacks ask for the row objects.
 */
export interface EncodedRows {
  readonly length: number;
  /** Appends every row's tuple to `out`, in order. */
  writeTuples(out: CopyBuffer): void;
  rows(): readonly Row[];
}

function isEncoded(input: readonly Row[] | EncodedRows): input is EncodedRows {
  return !Array.isArray(input);
}

function rowsOf(input: readonly Row[] | EncodedRows): readonly Row[] {
  return isEncoded(input) ? input.rows() : input;
}

/** Diff-aware idempotent upsert of contract rows into `spec.table`. */
export async function upsertRows(
  db: SqlClient,
  spec: TableSpec,
  input: readonly Row[] | EncodedRows,
  opts: UpsertOptions,
): Promise<UpsertResult> {
  if (input.length === 0) return { rows: 0, changed: 0, method: 'unnest' };
  const sql = statements(spec);
  if (input.length >= opts.copyMinRows && db.copyFrom) {
    // A key twice in the batch fails this COPY just as an existing key does: both fall back to the
    // de-duplicated upsert, so fresh batches skip building a key per row.
    if (await tryInsertOnly(db, spec, sql, input))
      return { rows: input.length, changed: input.length, method: 'insert' };
    const rows = dedupeByKey(spec, rowsOf(input));
    const viaCopy = await db.transaction(async (session) =>
      session.copyFrom ? copyUpsert(session, spec, sql, rows) : undefined,
    );
    if (viaCopy !== undefined) return { rows: rows.length, changed: viaCopy, method: 'copy' };
  }
  const rows = dedupeByKey(spec, rowsOf(input));
  const columns = spec.columns.map((c) => rows.map((r) => c.read(r)));
  const res = await db.query(sql.unnest, columns);
  return { rows: rows.length, changed: res.rowCount, method: 'unnest' };
}

/**
 * Fresh data (the common case) is COPYed straight into the table, skipping the staging round trip
 * (in the binary format where the table's column types allow, see copy-binary.ts). The COPY is its
 * own transaction, two round trips to the server where BEGIN / SAVEPOINT / COPY / RELEASE / COMMIT
 * took six; on a busy host every round trip waits for both processes to be scheduled. When the
 * server refuses the data (normally a key that already exists) nothing is written and the caller
 * falls back to the diff-aware upsert.
 */
async function tryInsertOnly(
  db: SqlClient,
  spec: TableSpec,
  sql: Statements,
  input: readonly Row[] | EncodedRows,
): Promise<boolean> {
  const skips = fastPathSkips.get(spec) ?? 0;
  if (skips > 0) {
    fastPathSkips.set(spec, skips - 1);
    return false;
  }
  const scratch = copyBuffers.take();
  try {
    const binary = isEncoded(input)
      ? encodedCopyData(input, scratch)
      : binaryEncoderFor(spec)?.(input, scratch);
    if (binary) await db.copyFrom!(sql.directBinary, binary);
    else await db.copyFrom!(sql.direct, toDirectCopyText(spec, rowsOf(input)));
    return true;
  } catch (err) {
    // A lost connection, a timeout or a shutting-down server is the coordinator's to retry; data the
    // COPY cannot take (a key that exists, a value out of range) is the fallback's.
    if (err instanceof Error && isRetryableDbError(err)) throw err;
    fastPathSkips.set(spec, FAST_PATH_COOLDOWN);
    return false;
  } finally {
    copyBuffers.give(scratch);
  }
}

function encodedCopyData(input: EncodedRows, out: CopyBuffer): Buffer {
  startCopyData(out);
  input.writeTuples(out);
  return endCopyData(out);
}

async function copyUpsert(
  session: SqlSession,
  spec: TableSpec,
  sql: Statements,
  rows: Row[],
): Promise<number> {
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
  const { copyLine } = codecFor(spec);
  let out = '';
  for (const row of rows) out += copyLine(row);
  return out;
}

/** COPY text in stored form, for COPY straight into the table. */
export function toDirectCopyText(spec: TableSpec, rows: readonly Row[]): string {
  const { directLine } = codecFor(spec);
  let out = '';
  for (const row of rows) out += directLine(row);
  return out;
}

/**
 * Epoch seconds as timestamptz text with microseconds, rounded exactly as PostgreSQL's
 * to_timestamp(float8) rounds (shift to its 2000 epoch, scale, rint), so a row written by either
 * path gets the same key. Past year 9999 the ISO text is not valid input: that COPY fails and the
 * staged upsert (to_timestamp) takes over.
 *
 * This runs for every row of the COPY path: the date part comes from `Date` once per day, the time
 * of day is plain arithmetic (a `Date` + `toISOString` per row cost ~7 % of the store's CPU).
 */
export function epochToTimestamptzText(sec: number): string {
  const micros = pgMicros(sec) + PG_EPOCH_OFFSET_SEC * 1e6;
  const whole = Math.floor(micros / 1e6);
  const day = Math.floor(whole / 86_400);
  let secOfDay = whole - day * 86_400;
  const hh = Math.floor(secOfDay / 3600);
  secOfDay -= hh * 3600;
  const mm = Math.floor(secOfDay / 60);
  const frac = micros - whole * 1e6;
  return `${datePart(day)}T${TWO_DIGITS[hh]}:${TWO_DIGITS[mm]}:${TWO_DIGITS[secOfDay - mm * 60]}.${frac === 0 ? '000000' : String(frac).padStart(6, '0')}Z`;
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
let lastDay = NaN;
let lastDate = '';

/** `YYYY-MM-DD` of a day number since 1970-01-01 (remembered: rows of a batch share a few days). */
function datePart(day: number): string {
  if (day !== lastDay) {
    const iso = new Date(day * 86_400_000).toISOString();
    lastDate = iso.slice(0, iso.indexOf('T'));
    lastDay = day;
  }
  return lastDate;
}

/** A non-numeric value as COPY text: backslash, tab, newline and carriage return escaped. */
function copyEscape(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : s;
}
