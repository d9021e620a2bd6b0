/** What a row of `audit_log` is about; `GET /audit` and the metrics label rows by it. */
export const AUDIT_KINDS = [
  'control_request',
  'control_result',
  'backpressure',
  'rate',
  'dead_letter',
  'service',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** One audit_log row (snake_case, as `GET /audit` returns it). */
export interface AuditRow {
  /** Idempotency key: the source envelope id, stream entry id or coalescing window; one row per key. */
  source_id: string;
  kind: AuditKind;
  /** Epoch seconds. */
  ts: number;
  actor: string;
  role: string;
  /** The audited verb (`pause`, `set_scale`, `backpressure.level`, `dlq.entries`, ...). */
  action: string;
  target: string | null;
  correlation_id: string | null;
  /** The core `ControlResult.status`. */
  status: 'ok' | 'error';
  /** The finer outcome (`ok | accepted | rejected | error`), when known. */
  outcome: string | null;
  detail: string | null;
  attributes: Record<string, string>;
}

export interface StoredAuditRow extends AuditRow {
  seq: number;
}
