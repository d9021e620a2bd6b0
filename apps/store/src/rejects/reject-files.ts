import path from 'path';
import type { Counter } from 'prom-client';
import { Row, SINK_KINDS, SinkKind } from '../sinks/tables';
import { RejectFile } from './reject-file';

export interface DeadLetterItem {
  kind: SinkKind;
  row: Row;
  deadLetter?: (reason: string) => void;
}

/** The error as a dead letter's reason, with the SQLSTATE when the database gave one. */
export function deadLetterReason(error: Error | string): string {
  if (typeof error === 'string') return error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? `database refused the row (SQLSTATE ${code}): ${error.message}`
    : error.message;
}

/** The per-sink dead-letter files (`<dir>/<sink>.ndjson`); items are stored as their contract rows. */
export class RejectFiles {
  private readonly files = new Map<SinkKind, RejectFile<Row>>();

  constructor(
    readonly dir: string,
    private readonly counter?: Counter<'sink'>,
  ) {
    for (const kind of SINK_KINDS) {
      this.files.set(kind, new RejectFile<Row>(path.join(dir, `${kind}.ndjson`)));
      counter?.inc({ sink: kind }, 0);
    }
  }

  file(kind: SinkKind): RejectFile<Row> {
    return this.files.get(kind)!;
  }

  async record(
    kind: SinkKind,
    rows: Row[],
    error: Error | string,
    attempts: number,
  ): Promise<void> {
    await this.file(kind).append(rows, error, attempts);
    this.counter?.inc({ sink: kind }, rows.length);
  }

  /**
   * Items with a dead-letter route of their own (stream deliveries: the source stream's `.dlq`) are
   * handed to it with the reason; the rest are grouped by sink and appended to their files.
   */
  async recordItems(
    items: readonly DeadLetterItem[],
    error: Error | string,
    attempts: number,
  ): Promise<void> {
    const reason = deadLetterReason(error);
    const byKind = new Map<SinkKind, Row[]>();
    for (const it of items) {
      if (it.deadLetter) {
        it.deadLetter(reason);
        this.counter?.inc({ sink: it.kind });
        continue;
      }
      const rows = byKind.get(it.kind);
      if (rows) rows.push(it.row);
      else byKind.set(it.kind, [it.row]);
    }
    for (const [kind, rows] of byKind) await this.record(kind, rows, error, attempts);
  }
}
