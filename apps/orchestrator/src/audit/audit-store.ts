import type { SqlClient } from '@mdp/sql';
import { AuditKind, AuditRow, StoredAuditRow } from './audit-row';

const MIGRATION_LOCK = 731_884_310; // serialises orchestrator replicas migrating one database

/**
 * `audit_log` is append-only: a trigger refuses UPDATE and DELETE, so a row, once written, is what
 * happened. Indexed by time and by target, the two ways `GET /audit` and operators look things up.
 */
const MIGRATION = [
  `CREATE TABLE IF NOT EXISTS audit_log (
     seq bigserial PRIMARY KEY,
     source_id text NOT NULL UNIQUE,
     kind text NOT NULL,
     ts double precision NOT NULL,
     actor text NOT NULL,
     role text NOT NULL,
     action text NOT NULL,
     target text,
     correlation_id text,
     status text NOT NULL,
     outcome text,
     detail text,
     attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
     recorded_at timestamptz NOT NULL DEFAULT now()
   )`,
  'CREATE INDEX IF NOT EXISTS audit_log_ts_idx ON audit_log (ts DESC, seq DESC)',
  'CREATE INDEX IF NOT EXISTS audit_log_target_ts_idx ON audit_log (target, ts DESC)',
  'CREATE INDEX IF NOT EXISTS audit_log_correlation_idx ON audit_log (correlation_id)',
  // Source entries whose dead-lettering is already counted in a dead_letter row: a poison entry that is
  // redelivered and dead-lettered again is the same dead letter, not a new one.
  'CREATE TABLE IF NOT EXISTS audit_dead_letter_seen (source_key text PRIMARY KEY, seen_at timestamptz NOT NULL DEFAULT now())',
  `CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`,
  'DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log',
  'CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()',
];

export interface AuditQuery {
  /** Epoch seconds, inclusive. */
  since?: number;
  /** Epoch seconds, exclusive. */
  until?: number;
  target?: string;
  action?: string;
  kind?: AuditKind;
  correlationId?: string;
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

export interface AuditPage {
  entries: StoredAuditRow[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

export const MAX_PAGE = 500;

/** The cursor is the (ts, seq) of the last row shown: keyset paging stays correct while rows arrive. */
export function encodeCursor(row: Pick<StoredAuditRow, 'ts' | 'seq'>): string {
  return Buffer.from(`${row.ts}:${row.seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): { ts: number; seq: number } | undefined {
  const [ts, seq] = Buffer.from(cursor, 'base64url').toString().split(':').map(Number);
  return Number.isFinite(ts) && Number.isInteger(seq) ? { ts, seq } : undefined;
}

const COLUMNS = [
  'source_id',
  'kind',
  'ts',
  'actor',
  'role',
  'action',
  'target',
  'correlation_id',
  'status',
  'outcome',
  'detail',
  'attributes',
] as const;

/** The audit trail in PostgreSQL (or PGlite): idempotent appends by `source_id`, newest-first pages. */
export class AuditStore {
  constructor(readonly db: SqlClient) {}

  async migrate(): Promise<void> {
    await this.db.transaction(async (s) => {
      if (this.db.dialect === 'postgres')
        await s.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      for (const stmt of MIGRATION) await s.query(stmt);
    });
  }

  /** Appends the rows whose source_id is new; returns those actually inserted. */
  append(rows: readonly AuditRow[]): Promise<AuditRow[]> {
    return this.appendWith(this.db, rows);
  }

  /**
   * Claims dead letters by source key and appends the row `build` makes of the newly claimed ones, in
   * one transaction: either both are written or neither. Returns the row when one was appended.
   */
  async appendDeadLetters(
    keys: readonly string[],
    build: (fresh: Set<string>) => AuditRow | undefined,
  ): Promise<AuditRow | undefined> {
    return this.db.transaction(async (s) => {
      const claimed = await s.query<{ source_key: string }>(
        'INSERT INTO audit_dead_letter_seen (source_key) SELECT unnest($1::text[]) ON CONFLICT (source_key) DO NOTHING RETURNING source_key',
        [keys],
      );
      const row = build(new Set(claimed.rows.map((r) => r.source_key)));
      if (!row) return undefined;
      const [inserted] = await this.appendWith(s, [row]);
      return inserted;
    });
  }

  private async appendWith(
    db: Pick<SqlClient, 'query'>,
    rows: readonly AuditRow[],
  ): Promise<AuditRow[]> {
    if (rows.length === 0) return [];
    const params: unknown[] = [];
    const tuples = rows.map((row) => {
      const values = COLUMNS.map((c) => {
        params.push(c === 'attributes' ? JSON.stringify(row.attributes ?? {}) : row[c]);
        return `$${params.length}`;
      });
      return `(${values.join(', ')})`;
    });
    const res = await db.query<{ source_id: string }>(
      `INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (source_id) DO NOTHING RETURNING source_id`,
      params,
    );
    const inserted = new Set(res.rows.map((r) => r.source_id));
    return rows.filter((r) => inserted.has(r.source_id));
  }

  async page(q: AuditQuery = {}): Promise<AuditPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const arg = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.since !== undefined) where.push(`ts >= ${arg(q.since)}`);
    if (q.until !== undefined) where.push(`ts < ${arg(q.until)}`);
    if (q.target !== undefined) where.push(`target = ${arg(q.target)}`);
    if (q.action !== undefined) where.push(`action = ${arg(q.action)}`);
    if (q.kind !== undefined) where.push(`kind = ${arg(q.kind)}`);
    if (q.correlationId !== undefined) where.push(`correlation_id = ${arg(q.correlationId)}`);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after)
      where.push(`(ts, seq) < (${arg(after.ts)}::double precision, ${arg(after.seq)}::bigint)`);
    const limit = Math.min(Math.max(1, q.limit ?? 50), MAX_PAGE);
    const res = await this.db.query<Record<string, unknown>>(
      `SELECT seq, ${COLUMNS.join(', ')} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ts DESC, seq DESC LIMIT ${limit + 1}`,
      params,
    );
    const entries = res.rows.slice(0, limit).map(toRow);
    return {
      entries,
      next_cursor: res.rows.length > limit ? encodeCursor(entries[entries.length - 1]) : null,
    };
  }

  /** Latest dead-letter entry id recorded per DLQ stream: where the dead-letter watch resumes after a restart. */
  async deadLetterCursors(): Promise<Map<string, string>> {
    const res = await this.db.query<{ target: string; last_id: string }>(
      `SELECT DISTINCT ON (target) target, attributes->>'last_entry_id' AS last_id FROM audit_log
       WHERE kind = 'dead_letter' ORDER BY target, seq DESC`,
    );
    return new Map(res.rows.filter((r) => r.last_id).map((r) => [r.target, r.last_id]));
  }
}

function toRow(r: Record<string, unknown>): StoredAuditRow {
  const attributes =
    typeof r.attributes === 'string'
      ? (JSON.parse(r.attributes) as Record<string, string>)
      : ((r.attributes ?? {}) as Record<string, string>);
  return {
    seq: Number(r.seq),
    source_id: String(r.source_id),
    kind: r.kind as AuditKind,
    ts: Number(r.ts),
    actor: String(r.actor),
    role: String(r.role),
    action: String(r.action),
    target: (r.target as string | null) ?? null,
    correlation_id: (r.correlation_id as string | null) ?? null,
    status: r.status as 'ok' | 'error',
    outcome: (r.outcome as string | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    attributes,
  };
}
