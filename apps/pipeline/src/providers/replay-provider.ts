import { createReadStream } from 'fs';
import { open } from 'fs/promises';
import path from 'path';
import readline from 'readline';
import { Readable } from 'stream';
import { createGunzip } from 'zlib';
import { parse as parseCsv } from 'csv-parse';
import { decode } from '@mdp/contracts';
import { Clock, systemClock } from '../rate/clock';
import {
  InvalidRecordSink,
  MarketRecord,
  Provider,
  RECORD_KINDS,
  RecordData,
  RecordKind,
  recordKey,
  recordTime,
} from './provider';

export type ReplayFormat = 'ndjson' | 'csv';

export interface ReplayProviderOptions {
  name?: string;
  file: string;
  /** What the file holds; default `bar`. */
  kind?: RecordKind;
  /** Default: from the extension (`.csv`, `.ndjson`/`.jsonl`/`.json`, optionally followed by `.gz`). */
  format?: ReplayFormat;
  /** Replay speed relative to the records' own timestamps (2 = twice as fast), or `max`: as fast as the rate budget allows. */
  speed?: number | 'max';
  /** Start again from the top at the end of the file. */
  loop?: boolean;
  clock?: Clock;
  onInvalid?: InvalidRecordSink;
}

type Row = { record: unknown; line: number } | { error: string; line: number };

/** CSV columns that stay text; every other non-empty cell is read as a number. */
const TEXT_COLUMNS = new Set([
  'provider',
  'symbol',
  'interval',
  'expiry',
  'option_type',
  'id',
  'title',
  'url',
  'summary',
  'source',
  'author',
  'currency',
]);
/** Market-time columns, which may also be ISO-8601 in CSV. */
const TIME_COLUMNS = new Set(['ts', 'published_at', 'asof']);

/**
 * Replays market data (bars by default; option snapshots, news or fundamentals with `kind`) from
 * NDJSON or CSV files, gzip-compressed or not (detected from the content). Lines that are not valid
 * records are reported through `onInvalid` with file:line and skipped. The position survives a restart
 * of `stream()` (records already emitted are skipped, not repeated).
 */
export class ReplayProvider implements Provider {
  readonly name: string;
  readonly kind: RecordKind;
  readonly kinds: readonly RecordKind[];
  readonly format: ReplayFormat;
  private readonly clock: Clock;
  private emitted = 0;

  constructor(private readonly opts: ReplayProviderOptions) {
    this.name = opts.name ?? 'replay';
    this.kind = opts.kind ?? 'bar';
    if (!(this.kind in RECORD_KINDS))
      throw new RangeError(
        `unknown record kind "${this.kind}" (expected ${Object.keys(RECORD_KINDS).join(' | ')})`,
      );
    this.kinds = [this.kind];
    this.format = opts.format ?? formatFromName(opts.file);
    this.clock = opts.clock ?? systemClock;
    const speed = opts.speed ?? 'max';
    if (speed !== 'max' && !(speed > 0))
      throw new RangeError(`replay speed must be > 0 or "max", got ${speed}`);
  }

  async *stream(signal: AbortSignal): AsyncIterable<MarketRecord> {
    const speed = this.opts.speed ?? 'max';
    do {
      let index = 0;
      let prevTime: number | undefined;
      for await (const row of this.rows()) {
        if (signal.aborted) return;
        const record =
          'error' in row ? this.invalid(row.line, row.error) : this.toRecord(row.record, row.line);
        if (!record) continue;
        const time = recordTime(record.kind, record.data);
        if (index++ < this.emitted) {
          prevTime = time;
          continue;
        }
        if (speed !== 'max' && prevTime !== undefined && time > prevTime) {
          await this.clock.sleep(((time - prevTime) * 1000) / speed, signal);
          if (signal.aborted) return;
        }
        prevTime = time;
        this.emitted++;
        yield record;
      }
      this.emitted = 0;
    } while (this.opts.loop && !signal.aborted);
  }

  private toRecord(raw: unknown, line: number): MarketRecord | undefined {
    if (raw && typeof raw === 'object' && !('provider' in raw))
      raw = { ...raw, provider: this.name };
    const decoded = decode(RECORD_KINDS[this.kind].v2, raw);
    if (!decoded.ok) return this.invalid(line, decoded.error.message);
    const data = decoded.value as RecordData[RecordKind];
    return { kind: this.kind, key: recordKey(this.kind, data), data } as MarketRecord;
  }

  private invalid(line: number, reason: string): undefined {
    this.opts.onInvalid?.({
      provider: this.name,
      location: `${path.basename(this.opts.file)}:${line}`,
      reason,
    });
    return undefined;
  }

  private async *rows(): AsyncIterable<Row> {
    const input = await openMaybeGzip(this.opts.file);
    try {
      if (this.format === 'csv') {
        const parser = input.pipe(
          parseCsv({
            columns: true,
            skip_empty_lines: true,
            trim: true,
            info: true,
            cast: castCsv,
            relax_column_count: true,
            skip_records_with_error: true,
          }),
        );
        // Malformed CSV rows (e.g. an unclosed quote) are skipped by the parser; report them, never drop silently.
        parser.on('skip', (err: Error & { lines?: number }) =>
          this.invalid(err.lines ?? 0, `bad CSV: ${err.message}`),
        );
        for await (const { record, info } of parser as AsyncIterable<{
          record: unknown;
          info: { lines: number };
        }>)
          yield { record, line: info.lines };
        return;
      }
      let line = 0;
      for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
        line++;
        if (!text.trim()) continue;
        yield parseJsonLine(text, line);
      }
    } finally {
      input.destroy();
    }
  }
}

function parseJsonLine(text: string, line: number): Row {
  try {
    return { record: JSON.parse(text), line };
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}`, line };
  }
}

/** Numbers for numeric columns; ISO times become epoch seconds; `symbols` is `;`-separated; empty cells disappear. */
function castCsv(value: string, ctx: { column?: number | string; header?: boolean }): unknown {
  if (ctx.header || typeof ctx.column !== 'string') return value;
  if (value === '') return undefined;
  if (TEXT_COLUMNS.has(ctx.column)) return value;
  if (ctx.column === 'symbols')
    return value
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  if (TIME_COLUMNS.has(ctx.column)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  return value;
}

export function formatFromName(file: string): ReplayFormat {
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.csv')) return 'csv';
  if (/\.(ndjson|jsonl|json)$/.test(base)) return 'ndjson';
  throw new RangeError(
    `cannot tell the format of "${file}" from its name: use .csv, .ndjson or .jsonl (optionally .gz), or set the format`,
  );
}

async function openMaybeGzip(file: string): Promise<Readable> {
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(2);
  try {
    await fh.read(magic, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const raw = createReadStream(file);
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}
