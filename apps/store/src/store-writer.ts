import { decodePayload, SchemaId } from '@mdp/contracts';
import type { SettleOutcome, WriteCoordinator } from './coordinator/write-coordinator';
import type { RejectFiles } from './rejects/reject-files';
import type { StoreItem } from './sinks/store-sink';
import type { Row, SinkKind } from './sinks/tables';

export const SCHEMA_BY_KIND: Record<SinkKind, SchemaId> = {
  bars: 'md.Bar',
  options: 'md.OptionSnap',
  news: 'md.News',
  fundamentals: 'md.Fundamentals',
};

export interface WriteReport {
  submitted: number;
  written: number;
  dead_lettered: number;
  dropped: number;
  /** Rows that failed contract validation (dead-lettered without reaching the queue). */
  invalid: number;
  /** Rows neither written nor dead-lettered (the dead-letter file could not be written). */
  failed: number;
}

/**
 * In-process writes (embedded single-process mode, DLQ replay) through the same coordinator as the
 * stream ingest. Rows are validated against the contract first; invalid ones are dead-lettered.
 */
export class StoreWriter {
  constructor(
    private readonly coordinator: WriteCoordinator<StoreItem>,
    private readonly dlq: RejectFiles,
  ) {}

  /** Resolves once every row is written, dead-lettered or dropped. */
  async write(kind: SinkKind, rows: readonly unknown[]): Promise<WriteReport> {
    const report: WriteReport = {
      submitted: rows.length,
      written: 0,
      dead_lettered: 0,
      dropped: 0,
      invalid: 0,
      failed: 0,
    };
    const valid: Row[] = [];
    for (const row of rows) {
      // v2 readers accept v1 rows, so validating against v2 covers both tracks.
      const decoded = decodePayload<Row>(SCHEMA_BY_KIND[kind], 'v2', row);
      if (decoded.ok) valid.push(decoded.value);
      else {
        report.invalid++;
        report.dead_lettered++;
        await this.dlq.record(
          kind,
          [row as Row],
          `invalid ${SCHEMA_BY_KIND[kind]}: ${decoded.error.message}`,
          0,
        );
      }
    }
    if (valid.length === 0) return report;
    let remaining = valid.length;
    let release!: () => void;
    const allSettled = new Promise<void>((resolve) => (release = resolve));
    const settle = (outcome: SettleOutcome) => {
      if (outcome === 'written') report.written++;
      else if (outcome === 'dropped') report.dropped++;
      else if (outcome === 'failed') report.failed++;
      else report.dead_lettered++;
      if (--remaining === 0) release();
    };
    await this.coordinator.submitMany(valid.map((row) => ({ kind, row, settle })));
    await allSettled;
    return report;
  }
}
