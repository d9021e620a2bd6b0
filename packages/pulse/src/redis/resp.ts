/**
 * Just enough RESP2 for a consumer's reader connection: command encoding, finding where a reply
 * ends as bytes arrive, and decoding replies. XREADGROUP replies are decoded straight into
 * `StreamBatch` strings, without the intermediate Buffer per field a general client builds, because
 * that reply is the consume hot path (see README "Performance"). Pure: no I/O.
 */
import type { RawEntry, StreamBatch } from '../core/transport';
import { FIELD, type Fields } from '../wire/wire';

const CR = 13;
const BANG = 33;
const DOLLAR = 36;
const STAR = 42;
const MINUS = 45;
const PLUS = 43;
const COLON = 58;

/** An error reply (`-ERR ...`, `-NOGROUP ...`): the message is Redis's own. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

/**
 * Bytes that are not RESP2 where a reply header should start (a RESP3 type after a HELLO 3, a
 * desynchronised stream): the connection cannot tell where anything ends any more, so it fails
 * instead of guessing.
 */
export class RespProtocolError extends Error {
  override name = 'RespProtocolError';
}

function unknownType(buf: Uint8Array, pos: number, where: string): RespProtocolError {
  const byte = buf[pos];
  const shown =
    byte >= 0x20 && byte < 0x7f
      ? `'${String.fromCharCode(byte)}'`
      : `0x${byte.toString(16).padStart(2, '0')}`;
  return new RespProtocolError(
    `unknown RESP type ${shown} at offset ${pos} ${where} (this reader speaks RESP2: + - : $ *)`,
  );
}

/** Throws unless the header at `pos` is of `type` (a `*` or `$` the stream reply layout requires). */
function expectType(buf: Uint8Array, pos: number, type: number): void {
  if (buf[pos] !== type)
    throw unknownType(buf, pos, `(expected '${String.fromCharCode(type)}' in a stream reply)`);
}

/** One command as RESP2 (an array of bulk strings). */
export function encodeCommand(args: ReadonlyArray<string | number>): string {
  // One join instead of `+=`: a flat string, so the socket write does not flatten a rope of pieces.
  const parts = new Array<string>(args.length * 2 + 1);
  parts[0] = `*${args.length}\r\n`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const s = typeof arg === 'string' ? arg : String(arg);
    parts[2 * i + 1] = `$${Buffer.byteLength(s)}\r\n`;
    parts[2 * i + 2] = `${s}\r\n`;
  }
  return parts.join('');
}

/** Index of the `\r` ending the line that starts at `pos`, or -1 when it has not all arrived. */
function lineEnd(buf: Uint8Array, pos: number, len: number): number {
  for (let i = pos; i + 1 < len; i++) if (buf[i] === CR) return i;
  return -1;
}

function int(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  let negative = false;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c === MINUS) negative = true;
    else n = n * 10 + (c - 48);
  }
  return negative ? -n : n;
}

/**
 * Finds where one reply ends, resuming where it stopped when the reply arrives in pieces: a
 * 400 kB XREADGROUP reply comes in several socket reads, and each byte is looked at once.
 */
export class ReplyScanner {
  /** Where the next header starts; -1 when no reply is being scanned. */
  private pos = -1;
  /** Elements still to come at the current nesting level, and those of the enclosing levels. */
  private remaining = 0;
  private readonly outer: number[] = [];
  /** Bytes of an oversized bulk string (and its CRLF) still to be dropped as they arrive. */
  private skipLeft = 0;

  /**
   * @param maxBulkBytes bulk strings longer than this are never buffered: `scanAndSkip` marks their
   *   header (`$` becomes `!`, same length, so the decoder sees the size) and drops their bytes.
   */
  constructor(private readonly maxBulkBytes = Infinity) {}

  /** The part of `chunk` left once the rest of an oversized bulk string being skipped is dropped. */
  consumeSkipped(chunk: Buffer): Buffer {
    if (this.skipLeft === 0) return chunk;
    const drop = Math.min(this.skipLeft, chunk.length);
    this.skipLeft -= drop;
    return drop === chunk.length ? chunk.subarray(0, 0) : chunk.subarray(drop);
  }

  /**
   * `scan`, dropping the bytes of oversized bulk strings from `buf` (compacting it in place): `end`
   * as `scan` returns it, `len` the buffer's new length.
   */
  scanAndSkip(buf: Buffer, start: number, len: number): { end: number; len: number } {
    this.len = len;
    const end = this.scanWith(buf, start, true);
    return { end, len: this.len };
  }

  private len = 0;

  /** End offset of the reply starting at `start`, or -1 when `buf[0, len)` does not hold all of it. */
  scan(buf: Uint8Array, start: number, len: number): number {
    this.len = len;
    return this.scanWith(buf, start, false);
  }

  private scanWith(buf: Uint8Array, start: number, skip: boolean): number {
    let len = this.len;
    if (this.pos < 0) {
      this.pos = start;
      this.remaining = 1;
      this.outer.length = 0;
    }
    let pos = this.pos;
    if (this.skipLeft > 0) return -1;
    // Resuming right after a skipped bulk that ended its array(s).
    while (this.remaining === 0) {
      if (!this.outer.length) {
        this.pos = -1;
        return pos;
      }
      this.remaining = this.outer.pop()!;
    }
    for (;;) {
      const end = lineEnd(buf, pos, len);
      if (end < 0) break;
      const type = buf[pos];
      let next = end + 2;
      if (type === BANG) {
        this.remaining--; // a bulk already skipped (marked on an earlier pass)
      } else if (type === DOLLAR) {
        const n = int(buf, pos + 1, end);
        if (skip && n > this.maxBulkBytes) {
          buf[pos] = BANG;
          const drop = Math.min(n + 2, len - next);
          (buf as Buffer).copyWithin(next, next + drop, len);
          len -= drop;
          this.len = len;
          this.skipLeft = n + 2 - drop;
          this.remaining--;
          pos = next;
          if (this.skipLeft > 0) break;
          while (this.remaining === 0) {
            if (!this.outer.length) {
              this.pos = -1;
              return pos;
            }
            this.remaining = this.outer.pop()!;
          }
          continue;
        }
        if (n >= 0) next += n + 2;
        if (next > len) break;
        this.remaining--;
      } else if (type === STAR) {
        const n = int(buf, pos + 1, end);
        this.remaining--;
        if (n > 0) {
          this.outer.push(this.remaining);
          this.remaining = n;
        }
      } else if (type === PLUS || type === MINUS || type === COLON) {
        this.remaining--; // one line each
      } else {
        throw unknownType(buf, pos, 'in a reply');
      }
      pos = next;
      while (this.remaining === 0) {
        if (!this.outer.length) {
          this.pos = -1;
          return pos;
        }
        this.remaining = this.outer.pop()!;
      }
    }
    this.pos = pos;
    return -1;
  }

  /** The buffer's first `by` bytes were dropped: shift the saved position. */
  shift(by: number): void {
    if (this.pos >= 0) this.pos -= by;
  }

  reset(): void {
    this.pos = -1;
    this.skipLeft = 0;
  }
}

/** Reads one complete reply; `[value, end]`. Error replies come back as `RedisReplyError` values. */
export function decodeReply(buf: Buffer, pos: number): [unknown, number] {
  const end = lineEnd(buf, pos, buf.length);
  const type = buf[pos];
  const next = end + 2;
  switch (type) {
    case DOLLAR: {
      const n = int(buf, pos + 1, end);
      if (n < 0) return [null, next];
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case STAR: {
      const n = int(buf, pos + 1, end);
      if (n < 0) return [null, next];
      const out = new Array<unknown>(n);
      let at = next;
      for (let i = 0; i < n; i++) [out[i], at] = decodeReply(buf, at);
      return [out, at];
    }
    case COLON:
      return [int(buf, pos + 1, end), next];
    case MINUS:
      return [new RedisReplyError(buf.toString('utf8', pos + 1, end)), next];
    case PLUS:
      return [buf.toString('utf8', pos + 1, end), next];
    default:
      throw unknownType(buf, pos, 'in a reply');
  }
}

/** The previous string when the same bytes come again (schema_id and track repeat entry after entry). */
class RepeatedValue {
  private bytes = Buffer.alloc(0);
  private text = '';

  of(buf: Buffer, from: number, to: number): string {
    const n = to - from;
    const bytes = this.bytes;
    if (n === bytes.length) {
      let same = true;
      for (let i = 0; i < n; i++)
        if (buf[from + i] !== bytes[i]) {
          same = false;
          break;
        }
      if (same) return this.text;
    }
    this.bytes = Buffer.from(buf.subarray(from, to)); // a copy: the reply buffer is reused
    return (this.text = buf.toString('utf8', from, to));
  }
}

/** Field names of the wire format as shared strings; any other name is decoded. */
function fieldName(buf: Buffer, from: number, n: number): string {
  switch (n) {
    case 2:
      if (buf[from] === 0x69 && buf[from + 1] === 0x64) return FIELD.id;
      break;
    case 5:
      if (sameAscii(buf, from, FIELD.track)) return FIELD.track;
      break;
    case 8:
      if (sameAscii(buf, from, FIELD.envelope)) return FIELD.envelope;
      break;
    case 9:
      if (sameAscii(buf, from, FIELD.schemaId)) return FIELD.schemaId;
      break;
  }
  return buf.toString('utf8', from, from + n);
}

function sameAscii(buf: Buffer, from: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (buf[from + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * Decodes a complete XREADGROUP / XREAD reply (`*-1` when the block timed out) into batches, or
 * throws the error reply. Entry ids are ASCII; field values are UTF-8.
 */
export class StreamReplyDecoder {
  private readonly schemaId = new RepeatedValue();
  private readonly track = new RepeatedValue();

  decode(buf: Buffer, start: number): StreamBatch[] {
    let pos = start;
    let end = lineEnd(buf, pos, buf.length);
    if (buf[pos] === MINUS) throw new RedisReplyError(buf.toString('utf8', pos + 1, end));
    if (buf[pos] !== STAR) throw unknownType(buf, pos, '(expected an XREADGROUP reply)');
    if (buf[pos + 1] === MINUS) return []; // *-1: the block timed out
    const streams = int(buf, pos + 1, end);
    pos = end + 2;
    const out: StreamBatch[] = [];
    for (let s = 0; s < streams; s++) {
      expectType(buf, pos, STAR);
      pos = lineEnd(buf, pos, buf.length) + 2; // *2: [name, entries]
      expectType(buf, pos, DOLLAR);
      end = lineEnd(buf, pos, buf.length);
      let n = int(buf, pos + 1, end);
      pos = end + 2;
      const stream = buf.toString('latin1', pos, pos + n);
      pos += n + 2;
      expectType(buf, pos, STAR);
      end = lineEnd(buf, pos, buf.length);
      const count = int(buf, pos + 1, end);
      pos = end + 2;
      const entries: RawEntry[] = new Array(Math.max(0, count));
      for (let k = 0; k < count; k++) {
        expectType(buf, pos, STAR);
        pos = lineEnd(buf, pos, buf.length) + 2; // *2: [id, fields]
        expectType(buf, pos, DOLLAR);
        end = lineEnd(buf, pos, buf.length);
        n = int(buf, pos + 1, end);
        pos = end + 2;
        const id = buf.toString('latin1', pos, pos + n);
        pos += n + 2;
        if (buf[pos] !== STAR)
          throw unknownType(buf, pos, '(expected the fields of a stream entry)');
        end = lineEnd(buf, pos, buf.length);
        const nf = int(buf, pos + 1, end);
        pos = end + 2;
        let fields: Fields | null = null;
        let tooLarge: RawEntry['tooLarge'];
        if (nf > 0) {
          fields = new Array<string>(nf);
          for (let f = 0; f < nf; f++) {
            // `!`: a bulk string the scanner skipped (its header marked), see ReplyScanner.
            if (buf[pos] !== BANG) expectType(buf, pos, DOLLAR);
            end = lineEnd(buf, pos, buf.length);
            n = int(buf, pos + 1, end);
            if (buf[pos] === BANG) {
              // Skipped by the scanner: too large to buffer. The value is left empty.
              pos = end + 2;
              fields[f] = '';
              tooLarge = { field: f % 2 === 1 ? fields[f - 1] : '(field name)', bytes: n };
              continue;
            }
            pos = end + 2;
            if (n < 0) {
              fields[f] = '';
              continue;
            }
            if (f % 2 === 0) fields[f] = fieldName(buf, pos, n);
            else {
              const name = fields[f - 1];
              fields[f] =
                name === FIELD.schemaId
                  ? this.schemaId.of(buf, pos, pos + n)
                  : name === FIELD.track
                    ? this.track.of(buf, pos, pos + n)
                    : buf.toString('utf8', pos, pos + n);
            }
            pos += n + 2;
          }
        }
        entries[k] = tooLarge
          ? { id, fields, deliveryCount: 1, tooLarge }
          : { id, fields, deliveryCount: 1 };
      }
      out.push({ stream, entries });
    }
    return out;
  }
}
