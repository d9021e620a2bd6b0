/**
 * PostgreSQL's binary COPY format for the insert-only path of tables whose columns are all text,
 * double precision, bigint or timestamptz (bars and fundamentals). Floats and instants go over as
 * their 8 bytes instead of being printed by Node and parsed again by the server: in text COPY that
 * formatting and parsing was most of the per-row cost on both sides.
 *
 * A batch holding a value the column's binary form cannot carry as is (a string in a float column,
 * a fractional bigint, ...) is not encoded: the caller sends it as text, where the server decides.
 */
import { PG_EPOCH_OFFSET_SEC, pgMicros } from './pg-time';
import type { ColumnSpec, Row, TableSpec } from './tables';

/**
 * Encodes rows; with `into`, the bytes are written into that reusable buffer and the result is a view
 * of it, valid until the buffer is used again.
 */
export type BinaryEncoder = (rows: readonly Row[], into?: CopyBuffer) => Buffer | undefined;

type Kind = 'text' | 'float8' | 'int8' | 'timestamptz';
const KINDS: Record<string, Kind> = {
  text: 'text',
  'double precision': 'float8',
  bigint: 'int8',
  timestamptz: 'timestamptz',
};

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TWO_32 = 2 ** 32;

/** A growable output buffer with the few writes the format needs. */
export class CopyBuffer {
  buf: Buffer;
  at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  int16(v: number): void {
    this.ensure(2);
    this.at = this.buf.writeInt16BE(v, this.at);
  }

  int32(v: number): void {
    this.ensure(4);
    this.at = this.buf.writeInt32BE(v, this.at);
  }

  /** A field: its length, then an 8-byte integer written as two halves (no BigInt on the hot path). */
  int64Field(v: number): void {
    this.ensure(12);
    const hi = Math.floor(v / TWO_32);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeInt32BE(hi, this.at);
    this.at = this.buf.writeUInt32BE(v - hi * TWO_32, this.at);
  }

  float8Field(v: number): void {
    this.ensure(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeDoubleBE(v, this.at);
  }

  textField(s: string): void {
    const n = s.length;
    this.ensure(4 + n * 3);
    const buf = this.buf;
    const start = this.at + 4;
    let i = 0;
    // Short ASCII (symbols, providers, intervals) byte by byte: cheaper than a call into C++.
    if (n <= 64)
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
    const bytes = i === n ? n : buf.write(s, start, 'utf8');
    buf.writeInt32BE(bytes, this.at);
    this.at = start + bytes;
  }
}

const encoders = new WeakMap<TableSpec, BinaryEncoder | null>();
const tupleEncoders = new WeakMap<TableSpec, TupleEncoder | null>();

/**
 * Writes one row as a COPY binary tuple at `out.at` and returns true; false (with `out.at` back where
 * it was) when a value cannot go over in its column's binary form.
 */
export type TupleEncoder = (row: Row, out: CopyBuffer) => boolean;

/** The table's tuple encoder, or undefined when a column's type is not one of the four above. */
export function tupleEncoderFor(spec: TableSpec): TupleEncoder | undefined {
  const hit = tupleEncoders.get(spec);
  if (hit !== undefined) return hit ?? undefined;
  const kinds = spec.columns.map((c) => KINDS[c.type]);
  const encoder: TupleEncoder | null = kinds.every(Boolean)
    ? (row, out) => {
        const at = out.at;
        if (encodeTuple(spec.columns, kinds as Kind[], row, out)) return true;
        out.at = at;
        return false;
      }
    : null;
  tupleEncoders.set(spec, encoder);
  return encoder ?? undefined;
}

/** The table's binary encoder, or undefined when a column's type is not one of the four above. */
export function binaryEncoderFor(spec: TableSpec): BinaryEncoder | undefined {
  const hit = encoders.get(spec);
  if (hit !== undefined) return hit ?? undefined;
  const tuple = tupleEncoderFor(spec);
  const encoder: BinaryEncoder | null = tuple
    ? (rows, into) => {
        const out = into ?? new CopyBuffer(64 + rows.length * (2 + spec.columns.length * 16));
        startCopyData(out);
        for (let r = 0; r < rows.length; r++) if (!tuple(rows[r], out)) return undefined;
        return endCopyData(out);
      }
    : null;
  encoders.set(spec, encoder);
  return encoder ?? undefined;
}

/** Starts COPY binary data in `out` (from its beginning): signature, flags, header extension. */
export function startCopyData(out: CopyBuffer): void {
  out.at = 0;
  out.ensure(SIGNATURE.length + 8);
  out.at += SIGNATURE.copy(out.buf, out.at);
  out.int32(0); // flags
  out.int32(0); // header extension length
}

/** Ends the COPY binary data started in `out`: the trailer, and a view of the whole. */
export function endCopyData(out: CopyBuffer): Buffer {
  out.int16(-1);
  return out.buf.subarray(0, out.at);
}

function encodeTuple(columns: ColumnSpec[], kinds: Kind[], row: Row, out: CopyBuffer): boolean {
  out.int16(columns.length);
  for (let c = 0; c < columns.length; c++) {
    const v = columns[c].read(row);
    if (v === null || v === undefined) {
      out.int32(-1);
      continue;
    }
    switch (kinds[c]) {
      case 'text':
        out.textField(
          typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v),
        );
        break;
      case 'float8':
        if (typeof v !== 'number') return false;
        out.float8Field(v);
        break;
      case 'int8':
        if (!Number.isSafeInteger(v)) return false;
        out.int64Field(v as number);
        break;
      case 'timestamptz': {
        if (typeof v !== 'number' || !Number.isFinite(v)) return false;
        const micros = pgMicros(v);
        if (!Number.isSafeInteger(micros)) return false;
        out.int64Field(micros);
        break;
      }
    }
  }
  return true;
}

/**
 * The row a tuple of `spec` holds, keyed by column name: what the fallback paths need of a row kept
 * only as its tuple. Every column of a binary-encodable table reads its own name (symbols upper-cased
 * again, which changes nothing), so the decoded row encodes to the same tuple.
 */
export function decodeTuple(spec: TableSpec, buf: Buffer, start: number): Row {
  const row: Row = {};
  const columns = spec.columns;
  let at = start + 2;
  for (let c = 0; c < columns.length; c++) {
    const n = buf.readInt32BE(at);
    at += 4;
    const name = columns[c].name;
    if (n < 0) {
      row[name] = null;
      continue;
    }
    switch (KINDS[columns[c].type]) {
      case 'text':
        row[name] = buf.toString('utf8', at, at + n);
        break;
      case 'float8':
        row[name] = buf.readDoubleBE(at);
        break;
      case 'int8':
        row[name] = buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
        break;
      case 'timestamptz':
        row[name] =
          (buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)) / 1e6 + PG_EPOCH_OFFSET_SEC;
        break;
    }
    at += n;
  }
  return row;
}

/**
 * Encode buffers kept between batches: a batch of 5 000 bars is ~1 MB, allocated outside the V8 heap
 * for every COPY it added that much to RSS until the next GC got round to it. Each writer takes one
 * for the time of its COPY and gives it back; at most `max` are kept.
 */
export class CopyBufferPool {
  private readonly spare: CopyBuffer[] = [];

  constructor(private readonly max = 8) {}

  take(): CopyBuffer {
    return this.spare.pop() ?? new CopyBuffer(64 * 1024);
  }

  give(buffer: CopyBuffer): void {
    if (this.spare.length < this.max) this.spare.push(buffer);
  }
}
