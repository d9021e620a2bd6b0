import { EventEmitter } from 'node:events';
import {
  auditEntry,
  STREAMS,
  streamSchemaId,
  type AuditEnvelope,
  type EventEnvelope,
} from '@mdp/contracts';
import { envelopeFor, type EventBus } from '@mdp/pulse';
import { CORRELATION_HEADER, OPERATION_HEADER, type Logger } from '@mdp/service-kit';
import { Counter, Registry } from 'prom-client';
import { AUDIT_KINDS, AuditKind, AuditRow } from './audit-row';
import type { AuditStore } from './audit-store';

export const ORCHESTRATOR_ROLE = 'orchestrator';
/**
 * Envelope headers of audit entries. The v1 payload (the core's AuditEnvelope) has no correlation id,
 * target or verb beyond pause | resume | reload; headers carry them on both tracks, so a v1 result
 * still finds its request and keeps its verb.
 */
export const AUDIT_HEADERS = {
  correlationId: CORRELATION_HEADER,
  operation: OPERATION_HEADER,
  kind: 'audit_kind',
  target: 'target',
} as const;

/** The correlation id of an audit entry: the v2 field, else the header. */
export function correlationOf(
  entry: Partial<Pick<AuditEnvelope, 'correlation_id'>>,
  envelope: Pick<EventEnvelope, 'meta'>,
): string | undefined {
  return entry.correlation_id ?? envelope.meta.headers[AUDIT_HEADERS.correlationId];
}

/** The row an audit entry read from the stream becomes; its envelope id is the idempotency key. */
export function rowOf(
  entry: AuditEnvelope,
  envelope: Pick<EventEnvelope, 'id' | 'meta'>,
): AuditRow {
  const headers = envelope.meta.headers;
  const hinted = headers[AUDIT_HEADERS.kind];
  const kind: AuditKind = (AUDIT_KINDS as readonly string[]).includes(hinted)
    ? (hinted as AuditKind)
    : entry.role === ORCHESTRATOR_ROLE
      ? 'control_request'
      : 'control_result';
  return {
    source_id: envelope.id,
    kind,
    ts: entry.ts,
    actor: entry.actor,
    role: entry.role,
    action: entry.operation ?? headers[AUDIT_HEADERS.operation] ?? entry.action,
    target: entry.target ?? headers[AUDIT_HEADERS.target] ?? null,
    correlation_id: correlationOf(entry, envelope) ?? null,
    status: entry.result.status,
    // A v1 (core) result has no outcome: its status is all there is.
    outcome: entry.result.outcome ?? (kind === 'control_result' ? entry.result.status : null),
    detail: entry.result.detail ?? null,
    attributes: entry.attributes ?? {},
  };
}

/**
 * The audit trail: rows go to `audit_log` (idempotent by source id) and, for what the orchestrator
 * itself audits, out on `<ns>.telemetry.audit` as an AuditEnvelope whose envelope id is the row's
 * source id. Entries read back from the stream (any service's) are appended the same way, so a row the
 * database missed while it was down is written when the entry is delivered again.
 */
export class AuditTrail {
  private readonly events = new EventEmitter();
  private readonly counter: Counter<'kind'>;
  private readonly failures: Counter<'stage'>;

  constructor(
    private readonly bus: EventBus,
    readonly store: AuditStore,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.counter = new Counter({
      name: 'orchestrator_audit_events_total',
      help: 'Rows appended to audit_log, by kind',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'orchestrator_audit_failures_total',
      help: 'Audit rows that could not be written (database) or published (bus) at first attempt, by stage',
      labelNames: ['stage'],
      registers: [registry],
    });
    this.events.setMaxListeners(0);
  }

  /** Called with every row actually appended (the cockpit's live feed). */
  onAppended(listener: (row: AuditRow) => void): () => void {
    this.events.on('row', listener);
    return () => this.events.off('row', listener);
  }

  /**
   * Audits something the orchestrator did or saw. The row is written, then published; when the
   * database is down the published entry is written once it is delivered back. Throws only when
   * neither worked (nothing would remember it).
   */
  async record(row: AuditRow): Promise<void> {
    let stored = true;
    try {
      await this.append([row]);
    } catch (err) {
      stored = false;
      this.failures.inc({ stage: 'database' });
      this.logger.error(
        { err: (err as Error).message, source_id: row.source_id },
        'audit row not written; it is written when its entry comes back from the stream',
      );
    }
    try {
      await this.bus.publish(STREAMS.audit, this.envelopeOf(row));
    } catch (err) {
      this.failures.inc({ stage: 'bus' });
      this.logger.error(
        { err: (err as Error).message, source_id: row.source_id },
        'audit entry not published',
      );
      if (!stored) throw err;
    }
  }

  /**
   * Audits dead letters: claims their source keys and writes the row built from the fresh ones in one
   * transaction, then publishes it. Nothing is written (and false returned) when all were seen before.
   */
  async recordDeadLetters(
    keys: string[],
    build: (fresh: Set<string>) => AuditRow | undefined,
  ): Promise<boolean> {
    const row = await this.store.appendDeadLetters(keys, build);
    if (!row) return false;
    this.counted(row);
    await this.bus.publish(STREAMS.audit, this.envelopeOf(row)).catch((err: Error) => {
      this.failures.inc({ stage: 'bus' });
      this.logger.error(
        { err: err.message, source_id: row.source_id },
        'audit entry not published',
      );
    });
    return true;
  }

  /** An audit entry delivered from the stream; throws when the database is down (the entry is delivered again). */
  async ingest(entry: AuditEnvelope, envelope: EventEnvelope): Promise<AuditRow | undefined> {
    const [row] = await this.append([rowOf(entry, envelope)]);
    return row;
  }

  private async append(rows: AuditRow[]): Promise<AuditRow[]> {
    const inserted = await this.store.append(rows);
    for (const row of inserted) this.counted(row);
    return inserted;
  }

  private counted(row: AuditRow): void {
    this.counter.inc({ kind: row.kind });
    this.events.emit('row', row);
  }

  private envelopeOf(row: AuditRow): EventEnvelope {
    const entry = auditEntry({
      actor: row.actor,
      role: row.role,
      operation: row.action,
      result: {
        status: row.status,
        detail: row.detail,
        ...(row.outcome ? { outcome: row.outcome as never } : {}),
      },
      ts: row.ts,
      ...(row.target ? { target: row.target } : {}),
      ...(row.correlation_id ? { correlation_id: row.correlation_id } : {}),
      attributes: row.attributes,
    });
    const headers: Record<string, string> = {
      [AUDIT_HEADERS.kind]: row.kind,
      [AUDIT_HEADERS.operation]: row.action,
    };
    if (row.correlation_id) headers[AUDIT_HEADERS.correlationId] = row.correlation_id;
    if (row.target) headers[AUDIT_HEADERS.target] = row.target;
    return envelopeFor(streamSchemaId(STREAMS.audit), entry, {
      id: row.source_id,
      key: ORCHESTRATOR_ROLE,
      track: this.bus.track,
      headers,
    });
  }
}
