/**
 * PostgreSQL's binary COPY format for the insert-only path of tables whose columns are all text,
 * double precision, bigint or timestamptz (bars and fundamentals). Floats and instants go over as
 * their 8 bytes instead of being printed by Node and parsed again by the server: in text COPY that
 * formatting and parsing was most of the per-row cost on both sides.
 *
 * A batch holding a value the column's binary form cannot carry as is (a string in a float column,
 * a fractional bigint, ...) is not encoded: the caller sends it as text, where the server decides.
 */
import { pgMicros } from './pg-time';
import type { Row, TableSpec } from './tables';

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

/** The table's binary encoder, or undefined when a column's type is not one of the four above. */
export function binaryEncoderFor(spec: TableSpec): BinaryEncoder | undefined {
  const hit = encoders.get(spec);
  if (hit !== undefined) return hit ?? undefined;
  const kinds = spec.columns.map((c) => KINDS[c.type]);
  const encoder: BinaryEncoder | null = kinds.every(Boolean)
    ? (rows, into) => encode(spec, kinds as Kind[], rows, into)
    : null;
  encoders.set(spec, encoder);
  return encoder ?? undefined;
}

function encode(
  spec: TableSpec,
  kinds: Kind[],
  rows: readonly Row[],
  into?: CopyBuffer,
): Buffer | undefined {
  const columns = spec.columns;
  const size = 64 + rows.length * (2 + columns.length * 16);
  const out = into ?? new CopyBuffer(size);
  out.at = 0;
  out.ensure(size);
  out.ensure(SIGNATURE.length);
  out.at += SIGNATURE.copy(out.buf, out.at);
  out.int32(0); // flags
  out.int32(0); // header extension length
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
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
          if (typeof v !== 'number') return undefined;
          out.float8Field(v);
          break;
        case 'int8':
          if (!Number.isSafeInteger(v)) return undefined;
          out.int64Field(v as number);
          break;
        case 'timestamptz': {
          if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
          const micros = pgMicros(v);
          if (!Number.isSafeInteger(micros)) return undefined;
          out.int64Field(micros);
          break;
        }
      }
    }
  }
  out.int16(-1); // trailer
  return out.buf.subarray(0, out.at);
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
