import { isRetryableDbError } from '../../src/sinks/errors';
import { runMigrations } from '../../src/sinks/migrations';
import type { QueryResult, SqlClient, SqlSession } from '@mdp/sql';
import {
  CopyBuffer,
  CopyBufferPool,
  binaryEncoderFor,
  decodeTuple,
  tupleEncoderFor,
} from '../../src/sinks/copy-binary';
import { BARS, FUNDAMENTALS, NEWS, OPTIONS, Row, TableSpec } from '../../src/sinks/tables';
import {
  dedupeByKey,
  epochToTimestamptzText,
  toCopyText,
  upsertRows,
} from '../../src/sinks/upsert';
import { makeBars } from '../helpers/bars';

/** Records statements; answers pg_available_extensions as told. */
class FakeSql implements SqlClient {
  readonly dialect: SqlClient['dialect'] = 'pglite';
  statements: Array<{ sql: string; params?: unknown[] }> = [];
  constructor(private readonly timescale: boolean) {}
  async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.statements.push({ sql, params });
    if (sql.includes('pg_available_extensions'))
      return { rows: (this.timescale ? [{}] : []) as R[], rowCount: this.timescale ? 1 : 0 };
    return { rows: [], rowCount: 0 };
  }
  async transaction<X>(fn: (s: SqlSession) => Promise<X>): Promise<X> {
    return fn({ memo: new Set(), query: (sql, params) => this.query(sql, params) });
  }
  async close(): Promise<void> {}
}

describe('migrations', () => {
  it('turns bars_ohlcv into a compressed hypertable when TimescaleDB is available', async () => {
    const db = new FakeSql(true);
    const report = await runMigrations(db);
    expect(report.timescale).toBe('hypertable');
    const sql = db.statements.map((s) => s.sql).join('\n');
    expect(sql).toContain('CREATE EXTENSION IF NOT EXISTS timescaledb');
    expect(sql).toContain("create_hypertable('bars_ohlcv', 'ts'");
    expect(sql).toContain('timescaledb.compress');
    expect(sql).toContain('add_compression_policy');
  });

  it('stays on plain PostgreSQL when it is not', async () => {
    const db = new FakeSql(false);
    expect((await runMigrations(db)).timescale).toBe('unavailable');
    expect(db.statements.some((s) => /CREATE EXTENSION|create_hypertable/.test(s.sql))).toBe(false);
  });
});

describe('upsert SQL', () => {
  it('is diff-aware: updates only rows whose values are distinct, touching updated_at', async () => {
    const db = new FakeSql(false);
    await upsertRows(db, BARS, makeBars(3), { copyMinRows: 1 }); // PGlite has no COPY: unnest path
    const { sql, params } = db.statements[0];
    expect(sql).toMatch(/^INSERT INTO "bars_ohlcv" AS t .* FROM unnest\(\$1::text\[\]/);
    expect(sql).toContain('ON CONFLICT ("provider", "symbol", "interval", "ts") DO UPDATE SET');
    expect(sql).toContain(
      'updated_at = now() WHERE (t."open", t."high", t."low", t."close", t."volume", t."trades", t."vwap") IS DISTINCT FROM (EXCLUDED."open"',
    );
    expect(sql).toContain('to_timestamp(u.c3)');
    expect(params?.[1]).toEqual(['AAPL', 'AAPL', 'AAPL']);
  });

  it('de-duplicates by natural key, last row wins, symbol case-insensitively', () => {
    const [a, b] = makeBars(2);
    const rows = dedupeByKey(BARS, [a, b, { ...a, symbol: 'AAPL', close: 1 }]);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.ts === a.ts)?.close).toBe(1);
  });

  const failingCopy = (err: Error) =>
    new (class extends FakeSql {
      override readonly dialect: SqlClient['dialect'] = 'postgres';
      async copyFrom(): Promise<void> {
        throw err;
      }
    })(false);
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it.each([
    ['a lost connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a statement timeout', withCode('canceling statement due to statement timeout', '57014')],
    ['a server shutting down', withCode('terminating connection', '57P01')],
  ])(
    'leaves %s during the insert-only COPY to the coordinator to retry, not to the fallback',
    async (_what, err) => {
      const db = failingCopy(err);
      const transaction = jest.spyOn(db, 'transaction');
      await expect(upsertRows(db, { ...BARS }, makeBars(3), { copyMinRows: 1 })).rejects.toBe(err);
      expect(isRetryableDbError(err)).toBe(true);
      expect(transaction).not.toHaveBeenCalled();
      expect(db.statements).toEqual([]);
    },
  );

  it("falls back to the de-duplicated upsert when the server refuses the COPY's data", async () => {
    const db = failingCopy(withCode('duplicate key value violates unique constraint', '23505'));
    const transaction = jest.spyOn(db, 'transaction');
    expect(await upsertRows(db, { ...BARS }, makeBars(3), { copyMinRows: 1 })).toEqual({
      rows: 3,
      changed: 0,
      method: 'unnest', // this fake's sessions cannot COPY, so the staged upsert is unnest here
    });
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(db.statements[0].sql).toMatch(/^INSERT INTO "bars_ohlcv" AS t .* ON CONFLICT/);
  });

  it('writes COPY text with NULLs and escapes', () => {
    const text = toCopyText(NEWS, [
      { provider: 'p', id: 'a\tb', published_at: 1.5, title: 'x\\y\nz', symbols: ['q'] },
    ]);
    expect(text).toBe('p\ta\\tb\t1.5\tx\\\\y\\nz\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t["Q"]\n');
  });
});

describe('epochToTimestamptzText', () => {
  /** The straightforward formatting (a Date per value), with the same rounding as to_timestamp(). */
  function viaDate(sec: number): string {
    const pgEpoch = 946_684_800;
    const x = (sec - pgEpoch) * 1e6;
    const r = Math.round(x);
    const micros = (Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r) + pgEpoch * 1e6;
    const ms = Math.floor(micros / 1000);
    return `${new Date(ms).toISOString().slice(0, 23)}${String(micros - ms * 1000).padStart(3, '0')}Z`;
  }

  it('matches Date-based formatting across days, years, fractions and negative epochs', () => {
    const samples = [
      0, 59.999_999_6, 86_399.999_999_5, 86_400, -0.000_001, -86_400.5, 951_782_400,
      1_700_000_000.123_456_5, 4_102_444_800.999_999_5, 253_402_300_799.5,
    ];
    for (let i = 0; i < 20_000; i++)
      samples.push(
        Math.random() * 4e9 - 1e9,
        Math.floor(Math.random() * 4e9) + Math.floor(Math.random() * 2e6) / 2e6,
      );
    for (let i = 0; i < 1_000; i++) samples.push(1_700_000_000 + Math.floor(i / 200) * 60); // runs of one bar time
    const wrong = samples.filter((s) => epochToTimestamptzText(s) !== viaDate(s));
    expect(wrong.map((s) => [s, epochToTimestamptzText(s), viaDate(s)])).toEqual([]);
    expect(epochToTimestamptzText(1_700_000_000.5)).toBe('2023-11-14T22:13:20.500000Z');
  });
});

describe('binary COPY encoding', () => {
  it('covers the tables whose columns are text, float8, int8 and timestamptz only', () => {
    expect(binaryEncoderFor(BARS)).toBeDefined();
    expect(binaryEncoderFor(FUNDAMENTALS)).toBeDefined();
    expect(binaryEncoderFor(OPTIONS)).toBeUndefined(); // expiry is a date
    expect(binaryEncoderFor(NEWS)).toBeUndefined(); // symbols is jsonb
  });

  it('frames rows as PostgreSQL reads them: signature, field count, lengths, big-endian values, trailer', () => {
    const [bar] = makeBars(1);
    const buf = binaryEncoderFor(BARS)!([
      { ...bar, provider: 'é', ts: 946_684_800.000_002, trades: 5 },
    ])!;
    expect(buf.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    let at = 19; // signature, flags, header extension length
    expect(buf.readInt16BE(at)).toBe(BARS.columns.length);
    at += 2;
    expect([buf.readInt32BE(at), buf.subarray(at + 4, at + 6).toString('utf8')]).toEqual([2, 'é']); // provider, UTF-8
    at += 6;
    at += 4 + 4 + 4 + 2; // symbol AAPL, interval 1m
    expect([buf.readInt32BE(at), buf.readBigInt64BE(at + 4)]).toEqual([8, 2n]); // ts: microseconds since 2000
    at += 12;
    expect(buf.readDoubleBE(at + 4)).toBe(bar.open);
    expect(buf.readInt16BE(buf.length - 2)).toBe(-1);
  });

  it('encodes into a reused buffer exactly as into a fresh one, growing it when a batch is larger', () => {
    const encode = binaryEncoderFor(BARS)!;
    const pool = new CopyBufferPool(1);
    const scratch = pool.take();
    const small = makeBars(2);
    const large = makeBars(3000);
    expect(Buffer.from(encode(large, scratch)!)).toEqual(encode(large));
    expect(Buffer.from(encode(small, scratch)!)).toEqual(encode(small));
    pool.give(scratch);
    expect(pool.take()).toBe(scratch);
  });

  it('declines a batch with a value its column cannot carry in binary form', () => {
    const [bar] = makeBars(1);
    const encode = binaryEncoderFor(BARS)!;
    expect(encode([bar])).toBeInstanceOf(Buffer);
    expect(encode([bar, { ...bar, trades: '12' }])).toBeUndefined();
    expect(encode([{ ...bar, trades: 1.5 }])).toBeUndefined();
    expect(encode([{ ...bar, open: '1.5' }])).toBeUndefined();
    expect(encode([{ ...bar, ts: Number.NaN }])).toBeUndefined();
  });
});

describe('COPY tuples held per row', () => {
  it('decode to a row that encodes to the same tuple (bars and fundamentals, nulls, negatives, UTF-8)', () => {
    const [bar] = makeBars(1);
    const cases: Array<[TableSpec, Row]> = [
      [BARS, { ...bar, symbol: 'brk.b', provider: 'é✓', ts: 1_700_000_000.123_456_7, trades: -5 }],
      [BARS, { ...bar, ts: 12.5e-7, vwap: -0.1, trades: 2 ** 40 + 3 }],
      [
        FUNDAMENTALS,
        { provider: 'p', symbol: 'x', asof: 1_600_000_000, eps: -1.25, currency: null },
      ],
    ];
    for (const [spec, row] of cases) {
      const encode = tupleEncoderFor(spec)!;
      const first = new CopyBuffer(16);
      expect(encode(row, first)).toBe(true);
      const decoded = decodeTuple(spec, first.buf, 0);
      const again = new CopyBuffer(16);
      expect(encode(decoded, again)).toBe(true);
      expect(again.buf.subarray(0, again.at)).toEqual(first.buf.subarray(0, first.at));
    }
  });

  it('a row the binary form cannot carry leaves the chunk as it was', () => {
    const [bar] = makeBars(1);
    const chunk = new CopyBuffer(16);
    const encode = tupleEncoderFor(BARS)!;
    expect(encode(bar, chunk)).toBe(true);
    const at = chunk.at;
    expect(encode({ ...bar, trades: 1.5 }, chunk)).toBe(false);
    expect(chunk.at).toBe(at);
    expect(tupleEncoderFor(OPTIONS)).toBeUndefined();
  });
});

describe('isRetryableDbError', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it.each([
    ['ECONNREFUSED', true],
    ['08006', true],
    ['57P01', true],
    ['40P01', true],
    ['53300', true],
    ['22P02', false],
    ['23502', false],
    ['42P01', false],
  ])('%s -> %s', (code, expected) => expect(isRetryableDbError(withCode(code))).toBe(expected));

  it('recognises connection loss by message and inside AggregateError', () => {
    expect(isRetryableDbError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetryableDbError(new AggregateError([withCode('ECONNREFUSED')], ''))).toBe(true);
    expect(isRetryableDbError(new Error('value out of range'))).toBe(false);
  });
});
