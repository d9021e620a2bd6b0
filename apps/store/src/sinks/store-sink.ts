import type { BatchSink } from '../coordinator/write-coordinator';
import type { SettleOutcome } from '../coordinator/write-coordinator';
import type { SqlClient } from '@mdp/sql';
import { Row, SinkKind, TABLES } from './tables';
import { DEFAULT_COPY_MIN_ROWS, UpsertResult, upsertRows } from './upsert';

/** One unit of work for the coordinator: a contract row of some kind, and who to tell when it is settled. */
export interface StoreItem {
  kind: SinkKind;
  row: Row;
  /** Called once, when the row is durably written, dead-lettered or dropped. */
  settle?: (outcome: SettleOutcome) => void;
  /**
   * Where the row's dead letter goes when it has a place of its own (a stream delivery: the source
   * stream's `.dlq`, atomic with the ack); without it, the sink's dead-letter file.
   */
  deadLetter?: (reason: string) => void;
}

export interface StoreSinkOptions {
  copyMinRows?: number;
  onWritten?: (kind: SinkKind, result: UpsertResult) => void;
}

/** Routes a mixed batch to one diff-aware upsert per table. Idempotent, so safe to replay. */
export class StoreSink implements BatchSink<StoreItem> {
  constructor(
    private readonly db: SqlClient,
    private readonly opts: StoreSinkOptions = {},
  ) {}

  async write(items: StoreItem[]): Promise<void> {
    const byKind = new Map<SinkKind, Row[]>();
    for (const item of items) {
      const rows = byKind.get(item.kind);
      if (rows) rows.push(item.row);
      else byKind.set(item.kind, [item.row]);
    }
    for (const [kind, rows] of byKind) {
      const result = await upsertRows(this.db, TABLES[kind], rows, {
        copyMinRows: this.opts.copyMinRows ?? DEFAULT_COPY_MIN_ROWS,
      });
      this.opts.onWritten?.(kind, result);
    }
  }
}
