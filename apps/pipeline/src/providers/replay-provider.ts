import { createReadStream } from 'fs';
import { open } from 'fs/promises';
import path from 'path';
import readline from 'readline';
import { Readable } from 'stream';
import { createGunzip } from 'zlib';
import { parse as parseCsv } from 'csv-parse';
import { BarV2, decode } from '@mdp/contracts';
import { Clock, systemClock } from '../rate/clock';
import type { BarRecord, InvalidRecordSink, Provider, RecordKind } from './provider';

export type ReplayFormat = 'ndjson' | 'csv';

export interface ReplayProviderOptions {
  name?: string;
  file: string;
  /** Default: from the extension (`.csv`, `.ndjson`/`.jsonl`/`.json`, optionally followed by `.gz`). */
  format?: ReplayFormat;
  /** Replay speed relative to the bars' own timestamps (2 = twice as fast), or `max`: as fast as the rate budget allows. */
  speed?: number | 'max';
  /** Start again from the top at the end of the file. */
  loop?: boolean;
  clock?: Clock;
  onInvalid?: InvalidRecordSink;
}

const NUMERIC = new Set(['ts', 'open', 'high', 'low', 'close', 'volume', 'trades', 'vwap']);

/**
 * Replays bars from NDJSON or CSV files, gzip-compressed or not (detected from the content). Lines
 * that are not valid bars are reported through `onInvalid` with file:line and skipped. The position
 * survives a restart of `stream()` (records already emitted are skipped, not repeated).
 */
export class ReplayProvider implements Provider {
  readonly name: string;
  readonly kinds: readonly RecordKind[] = ['bar'];
  readonly format: ReplayFormat;
  private readonly clock: Clock;
  private emitted = 0;

  constructor(private readonly opts: ReplayProviderOptions) {
    this.name = opts.name ?? 'replay';
    this.format = opts.format ?? formatFromName(opts.file);
    this.clock = opts.clock ?? systemClock;
    const speed = opts.speed ?? 'max';
    if (speed !== 'max' && !(speed > 0)) throw new RangeError(`replay speed must be > 0 or "max", got ${speed}`);
  }

  async *stream(signal: AbortSignal): AsyncIterable<BarRecord> {
    do {
      let index = 0;
      let prevTs: number | undefined;
      for await (const row of this.rows()) {
        if (signal.aborted) return;
        const bar = 'error' in row ? this.invalid(row.line, row.error) : this.toBar(row.record, row.line);
        if (!bar) continue;
        if (index++ < this.emitted) {
          prevTs = bar.ts;
          continue;
        }
        const speed = this.opts.speed ?? 'max';
        if (speed !== 'max' && prevTs !== undefined && bar.ts > prevTs) {
          await this.clock.sleep(((bar.ts - prevTs) * 1000) / speed, signal);
          if (signal.aborted) return;
        }
        prevTs = bar.ts;
        this.emitted++;
        yield { kind: 'bar', symbol: bar.symbol, data: bar };
      }
      this.emitted = 0;
    } while (this.opts.loop && !signal.aborted);
  }

  private toBar(record: unknown, line: number): BarV2 | undefined {
    if (record && typeof record === 'object' && !('provider' in record)) record = { ...record, provider: this.name };
    const decoded = decode(BarV2, record);
    return decoded.ok ? decoded.value : this.invalid(line, decoded.error.message);
  }

  private invalid(line: number, reason: string): undefined {
    this.opts.onInvalid?.({ provider: this.name, location: `${path.basename(this.opts.file)}:${line}`, reason });
    return undefined;
  }

  private async *rows(): AsyncIterable<{ record: unknown; line: number } | { error: string; line: number }> {
    const input = await openMaybeGzip(this.opts.file);
    try {
      if (this.format === 'csv') {
        const parser = input.pipe(
          parseCsv({ columns: true, skip_empty_lines: true, trim: true, info: true, cast: castCsv, relax_column_count: true, skip_records_with_error: true }),
        );
        // Malformed CSV rows (e.g. an unclosed quote) are skipped by the parser; report them, never drop silently.
        parser.on('skip', (err: Error & { lines?: number }) => this.invalid(err.lines ?? 0, `bad CSV: ${err.message}`));
        for await (const { record, info } of parser as AsyncIterable<{ record: unknown; info: { lines: number } }>) yield { record, line: info.lines };
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

function parseJsonLine(text: string, line: number): { record: unknown; line: number } | { error: string; line: number } {
  try {
    return { record: JSON.parse(text), line };
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}`, line };
  }
}

/** Numbers for numeric columns; ISO timestamps become epoch seconds; empty optional cells disappear. */
function castCsv(value: string, ctx: { column?: number | string; header?: boolean }): unknown {
  if (ctx.header || typeof ctx.column !== 'string' || !NUMERIC.has(ctx.column)) return value;
  if (value === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  if (ctx.column === 'ts') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  return value;
}

export function formatFromName(file: string): ReplayFormat {
  const base = file.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.csv')) return 'csv';
  if (/\.(ndjson|jsonl|json)$/.test(base)) return 'ndjson';
  throw new RangeError(`cannot tell the format of "${file}" from its name: use .csv, .ndjson or .jsonl (optionally .gz), or set the format`);
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
