import path from 'path';
import type { Counter } from 'prom-client';
import { Row, SINK_KINDS, SinkKind } from '../sinks/tables';
import { RejectFile } from './reject-file';

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

  async record(kind: SinkKind, rows: Row[], error: Error | string, attempts: number): Promise<void> {
    await this.file(kind).append(rows, error, attempts);
    this.counter?.inc({ sink: kind }, rows.length);
  }

  /** Groups mixed items by sink and appends each group to its file. */
  async recordItems(items: readonly { kind: SinkKind; row: Row }[], error: Error | string, attempts: number): Promise<void> {
    const byKind = new Map<SinkKind, Row[]>();
    for (const it of items) {
      const rows = byKind.get(it.kind);
      if (rows) rows.push(it.row);
      else byKind.set(it.kind, [it.row]);
    }
    for (const [kind, rows] of byKind) await this.record(kind, rows, error, attempts);
  }
}
