import { createReadStream } from 'fs';
import { appendFile, mkdir, open, rename, rm, stat } from 'fs/promises';
import path from 'path';
import { createInterface } from 'readline';

/** One NDJSON line of a dead-letter file. */
export interface RejectRecord<T = unknown> {
  item: T;
  error: string;
  attempts: number;
  /** Epoch seconds. */
  ts: number;
}

export interface ReplayOutcome {
  /** Records handed to the replay function. */
  replayed: number;
  /** Lines that were not valid records (kept in a `.corrupt` file next to the DLQ). */
  corrupt: number;
}

/**
 * Append-only NDJSON dead-letter file for one sink. Appends are serialised so concurrent workers
 * never interleave lines. Replay moves the file aside first, so items that fail again are appended
 * to a fresh file instead of being read twice.
 */
export class RejectFile<T = unknown> {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  append(items: readonly T[], error: Error | string, attempts: number): Promise<void> {
    const ts = Date.now() / 1000;
    const message = typeof error === 'string' ? error : error.message;
    const lines = items
      .map(
        (item) =>
          JSON.stringify({ item, error: message, attempts, ts } satisfies RejectRecord<T>) + '\n',
      )
      .join('');
    return this.appendLines(lines);
  }

  /** Reads records in file order, skipping `offset` and returning at most `limit`. */
  async list(
    opts: { offset?: number; limit?: number } = {},
  ): Promise<{ total: number; records: RejectRecord<T>[] }> {
    await this.tail;
    const offset = opts.offset ?? 0;
    const limit = opts.limit ?? 100;
    const records: RejectRecord<T>[] = [];
    let total = 0;
    for await (const rec of readRecords<T>(this.file)) {
      if (!rec.ok) continue;
      if (total >= offset && records.length < limit) records.push(rec.record);
      total++;
    }
    return { total, records };
  }

  async count(): Promise<number> {
    return (await this.list({ limit: 0 })).total;
  }

  /**
   * Hands every record to `resubmit` (in chunks) and removes the replayed file once all chunks are
   * accepted. If `resubmit` throws, the remaining records are appended back, nothing is lost.
   */
  async replay(resubmit: (items: T[]) => Promise<void>, chunkSize = 500): Promise<ReplayOutcome> {
    await this.tail;
    if (!(await exists(this.file))) return { replayed: 0, corrupt: 0 };
    const aside = `${this.file}.replay-${process.pid}-${Date.now()}`;
    await rename(this.file, aside);
    let replayed = 0;
    let consumed = 0;
    let chunk: RejectRecord<T>[] = [];
    const corruptLines: string[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const records = chunk;
      chunk = [];
      try {
        await resubmit(records.map((r) => r.item));
      } catch (err) {
        for (const r of records) await this.appendRecord(r);
        throw err;
      }
      replayed += records.length;
    };
    try {
      for await (const rec of readRecords<T>(aside)) {
        consumed++;
        if (!rec.ok) {
          corruptLines.push(rec.line);
          continue;
        }
        chunk.push(rec.record);
        if (chunk.length >= chunkSize) await flush();
      }
      await flush();
    } catch (err) {
      // The failed chunk is back in the file; put back everything not read yet, then surface the failure.
      for await (const rec of readRecords<T>(aside, consumed)) {
        if (rec.ok) await this.appendRecord(rec.record);
        else corruptLines.push(rec.line);
      }
      await this.keepCorrupt(corruptLines);
      await rm(aside, { force: true });
      throw err;
    }
    await this.keepCorrupt(corruptLines);
    await rm(aside, { force: true });
    return { replayed, corrupt: corruptLines.length };
  }

  private async keepCorrupt(lines: string[]): Promise<void> {
    if (lines.length) await appendFile(`${this.file}.corrupt`, lines.join('\n') + '\n', 'utf8');
  }

  private appendRecord(r: RejectRecord<T>): Promise<void> {
    return this.appendLines(JSON.stringify(r) + '\n');
  }

  /** Serialised append, on disk (fdatasync) before it resolves: the caller acks what it recorded. */
  private appendLines(lines: string): Promise<void> {
    const next = this.tail.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const handle = await open(this.file, 'a');
      try {
        await handle.appendFile(lines, 'utf8');
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }
}

type ReadResult<T> = { ok: true; record: RejectRecord<T> } | { ok: false; line: string };

async function* readRecords<T>(file: string, skip = 0): AsyncGenerator<ReadResult<T>> {
  if (!(await exists(file))) return;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let index = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    if (index++ < skip) continue;
    try {
      const rec = JSON.parse(line) as RejectRecord<T>;
      if (rec && typeof rec === 'object' && 'item' in rec) yield { ok: true, record: rec };
      else yield { ok: false, line };
    } catch {
      yield { ok: false, line };
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
