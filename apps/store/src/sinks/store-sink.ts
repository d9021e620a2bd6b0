import type { BatchSink } from '../coordinator/write-coordinator';
import type { SettleOutcome } from '../coordinator/write-coordinator';
import type { SqlClient } from '@mdp/sql';
import type { CopyBuffer } from './copy-binary';
import { Row, SinkKind, TABLES } from './tables';
import { DEFAULT_COPY_MIN_ROWS, EncodedRows, UpsertResult, upsertRows } from './upsert';

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
  /**
   * Set when the row is held as its COPY binary tuple: bytes [tupleStart, tupleEnd) of
   * `tuples.buf` (`row` then decodes it). Fields rather than an object of their own: one object
   * fewer per row held.
   */
  tuples?: CopyBuffer;
  tupleStart?: number;
  tupleEnd?: number;
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
    const byKind = new Map<SinkKind, StoreItem[]>();
    for (const item of items) {
      const same = byKind.get(item.kind);
      if (same) same.push(item);
      else byKind.set(item.kind, [item]);
    }
    for (const [kind, same] of byKind) {
      const rows = same.every((i) => i.tuples) ? new ItemTuples(same) : same.map((i) => i.row);
      const result = await upsertRows(this.db, TABLES[kind], rows, {
        copyMinRows: this.opts.copyMinRows ?? DEFAULT_COPY_MIN_ROWS,
      });
      this.opts.onWritten?.(kind, result);
    }
  }
}

/** Items of one kind that all hold their tuples. */
class ItemTuples implements EncodedRows {
  constructor(private readonly items: StoreItem[]) {}

  get length(): number {
    return this.items.length;
  }

  writeTuples(out: CopyBuffer): void {
    const items = this.items;
    let i = 0;
    while (i < items.length) {
      // Rows read together sit side by side in one chunk: copy each run of them at once.
      const chunk = items[i].tuples!;
      const start = items[i].tupleStart!;
      let end = items[i].tupleEnd!;
      for (i++; i < items.length && items[i].tuples === chunk && items[i].tupleStart === end; i++)
        end = items[i].tupleEnd!;
      out.ensure(end - start);
      out.at += chunk.buf.copy(out.buf, out.at, start, end);
    }
  }

  rows(): Row[] {
    return this.items.map((i) => i.row);
  }
}
