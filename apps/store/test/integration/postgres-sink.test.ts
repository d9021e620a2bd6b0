import { createTestSchema, describeWithPostgres, TestSchema } from '@mdp/testing';
import { isRetryableDbError } from '../../src/sinks/errors';
import { MIGRATIONS, runMigrations } from '../../src/sinks/migrations';
import { PgSqlClient } from '@mdp/sql';
import { BARS, FUNDAMENTALS, NEWS, OPTIONS } from '../../src/sinks/tables';
import { epochToTimestamptzText, upsertRows } from '../../src/sinks/upsert';
import { makeBars } from '../helpers/bars';

describeWithPostgres('PostgreSQL sinks', () => {
  let schema: TestSchema;
  let db: PgSqlClient;

  beforeAll(async () => {
    schema = await createTestSchema();
    db = new PgSqlClient({ connectionString: schema.url, maxConnections: 4 });
  });

  afterAll(async () => {
    await db?.close();
    await schema?.drop();
  });

  const barsRows = async () =>
    (
      await db.query<{
        symbol: string;
        close: number;
        created_at: Date;
        updated_at: Date;
        ts: Date;
      }>('SELECT * FROM bars_ohlcv ORDER BY ts')
    ).rows;

  it('runs migrations idempotently and falls back to plain PostgreSQL without TimescaleDB', async () => {
    const first = await runMigrations(db);
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
    expect(first.timescale).toBe('unavailable');
    const second = await runMigrations(db);
    expect(second.applied).toEqual([]);
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema.schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'bars_ohlcv',
      'fundamentals',
      'mds_schema_migrations',
      'news',
      'option_snapshots',
    ]);
    const pk = await db.query<{ column_name: string }>(
      `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = 'bars_ohlcv'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    );
    expect(pk.rows.map((r) => r.column_name)).toEqual(['provider', 'symbol', 'interval', 'ts']);
  });

  it('formats epoch seconds exactly as to_timestamp() rounds them (the insert-only COPY path relies on it)', async () => {
    const samples = [
      0, 0.5e-6, 1.5e-6, 2.5e-6, 946_684_800.0000005, 1_700_000_000.1234565,
      4_102_444_800.999_999_5, 253_402_300_799.5,
    ]; // up to year 9999 (beyond, COPY rejects the text and the upsert path takes over)
    for (let i = 0; i < 3000; i++)
      samples.push(
        Math.random() * 4e9,
        Math.floor(Math.random() * 4e9) + Math.floor(Math.random() * 2e6) / 2e6,
      );
    const res = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM unnest($1::float8[], $2::text[]) AS u(sec, txt) WHERE to_timestamp(sec) IS DISTINCT FROM txt::timestamptz',
      [samples, samples.map(epochToTimestamptzText)],
    );
    expect(Number(res.rows[0].n)).toBe(0);
  });

  it.each([
    ['unnest', 1_000_000, 'unnest'],
    ['copy', 1, 'insert'],
  ])(
    'upserts via %s: replay changes nothing, a correction updates updated_at, symbols upper-cased',
    async (method, copyMinRows, firstMethod) => {
      await db.query('TRUNCATE bars_ohlcv');
      const bars = makeBars(20, { symbol: 'aapl', provider: method }).map((b, i) => ({
        ...b,
        ts: b.ts + i * 0.000_123_5,
      }));
      const first = await upsertRows(db, BARS, bars, { copyMinRows });
      expect(first).toEqual({ rows: 20, changed: 20, method: firstMethod });
      const before = await barsRows();
      expect(before[0].symbol).toBe('AAPL');
      expect(before[0].ts.getTime()).toBe(bars[0].ts * 1000);
      expect(
        await db.query('SELECT 1 FROM bars_ohlcv GROUP BY ts HAVING count(*) > 1'),
      ).toMatchObject({ rowCount: 0 });

      const replay = await upsertRows(db, BARS, bars, { copyMinRows });
      expect(replay).toEqual({ rows: 20, changed: 0, method }); // existing rows: the insert-only attempt falls back
      const afterReplay = await barsRows();
      expect(afterReplay.map((r) => r.updated_at.getTime())).toEqual(
        before.map((r) => r.updated_at.getTime()),
      );

      const corrected = bars.map((b, i) =>
        i === 3 ? { ...b, close: b.close + 0.5, high: b.high + 1 } : b,
      );
      const fix = await upsertRows(db, BARS, corrected, { copyMinRows });
      expect(fix.changed).toBe(1);
      const after = await barsRows();
      expect(after[3].close).toBe(bars[3].close + 0.5);
      expect(after[3].updated_at.getTime()).toBeGreaterThan(before[3].updated_at.getTime());
      expect(after[3].created_at.getTime()).toBe(before[3].created_at.getTime());
      expect(after[4].updated_at.getTime()).toBe(before[4].updated_at.getTime());
    },
  );

  it('de-duplicates a batch that holds the same key twice (last one wins)', async () => {
    const [a] = makeBars(1, { symbol: 'dup' });
    for (const copyMinRows of [1_000_000, 1]) {
      await db.query('TRUNCATE bars_ohlcv'); // a fresh table: on the COPY path only the in-batch twin conflicts
      const res = await upsertRows(
        db,
        BARS,
        [a, { ...a, symbol: 'DUP', close: a.close + 1, high: a.high + 1 }],
        { copyMinRows },
      );
      expect(res).toEqual({ rows: 1, changed: 1, method: copyMinRows === 1 ? 'copy' : 'unnest' });
      const rows = await barsRows();
      expect(rows).toHaveLength(1);
      expect(rows[0].close).toBe(a.close + 1);
    }
  });

  it('writes options, news and fundamentals with their natural keys, escaping text for COPY', async () => {
    const option = {
      provider: 'p',
      symbol: 'spy',
      expiry: '2025-01-17',
      option_type: 'P',
      strike: 400.5,
      ts: 1_700_000_000,
      iv: 0.3,
      oi: 12,
    };
    const news = {
      provider: 'p',
      id: 'x\t1',
      published_at: 1_700_000_000,
      title: 'multi\nline \\ title',
      symbols: ['aapl'],
    };
    const fundamentals = {
      provider: 'p',
      symbol: 'aapl',
      asof: 1_700_000_000,
      net_income: -5,
      currency: 'USD',
    };
    for (const copyMinRows of [1_000_000, 1]) {
      await upsertRows(db, OPTIONS, [option], { copyMinRows });
      await upsertRows(db, NEWS, [news], { copyMinRows });
      await upsertRows(db, FUNDAMENTALS, [fundamentals], { copyMinRows });
    }
    expect((await db.query('SELECT * FROM option_snapshots')).rows).toEqual([
      expect.objectContaining({ symbol: 'SPY', strike: 400.5, oi: '12' }),
    ]);
    expect((await db.query('SELECT * FROM news')).rows).toEqual([
      expect.objectContaining({ id: 'x\t1', title: 'multi\nline \\ title', symbols: ['AAPL'] }),
    ]);
    expect((await db.query('SELECT * FROM fundamentals')).rows).toEqual([
      expect.objectContaining({ symbol: 'AAPL', net_income: -5 }),
    ]);
  });

  it('writes binary COPY that reads back exactly as the text paths write it', async () => {
    const bars = { ...BARS }; // its own insert-only cooldown: earlier tests' fallbacks do not carry over
    const long = 'Ünïcode provider — ' + 'x'.repeat(80);
    const tricky = [
      {
        provider: long,
        symbol: 'ß-aapl',
        interval: '1m',
        ts: 1_700_000_000.000_000_5,
        open: -1.5,
        high: 1e300,
        low: -0.25,
        close: 0.1 + 0.2,
        volume: 0,
        trades: 2 ** 40,
        vwap: null,
      },
      {
        provider: 'p',
        symbol: 'b',
        interval: '1m',
        ts: 946_684_799.999_998,
        open: 1,
        high: 2,
        low: 0.5,
        close: 1.5,
        volume: 12.25,
      }, // before 2000: negative micros
      {
        provider: 'p',
        symbol: 'c',
        interval: '1m',
        ts: -86_400.000_001,
        open: 1,
        high: 2,
        low: 0.5,
        close: 1.5,
        volume: 3,
        trades: -7,
      }, // before 1970
    ];
    const read = async () =>
      (
        await db.query(
          `SELECT provider, symbol, interval, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, open, high, low, close, volume, trades, vwap FROM bars_ohlcv ORDER BY ts`,
        )
      ).rows;
    await db.query('TRUNCATE bars_ohlcv');
    expect(await upsertRows(db, bars, tricky, { copyMinRows: 1 })).toEqual({
      rows: 3,
      changed: 3,
      method: 'insert',
    });
    const viaBinary = await read();
    await db.query('TRUNCATE bars_ohlcv');
    expect(await upsertRows(db, bars, tricky, { copyMinRows: 1_000_000 })).toMatchObject({
      method: 'unnest',
    }); // to_timestamp, text arrays
    expect(await read()).toEqual(viaBinary);
    expect(viaBinary.map((r) => [r.symbol, r.ts, r.trades, r.provider])).toEqual([
      ['C', '1969-12-30T23:59:59.999999', '-7', 'p'],
      ['B', '1999-12-31T23:59:59.999998', null, 'p'],
      ['SS-AAPL', '2023-11-14T22:13:20.000000', String(2 ** 40), long],
    ]);
  });

  it('sends a batch as text COPY when a value does not fit its column binary form (the server decides)', async () => {
    const bars = { ...BARS };
    const [bar] = makeBars(1, { symbol: 'txt' });
    await db.query('TRUNCATE bars_ohlcv');
    expect(await upsertRows(db, bars, [{ ...bar, trades: '12' }], { copyMinRows: 1 })).toEqual({
      rows: 1,
      changed: 1,
      method: 'insert',
    });
    expect((await db.query('SELECT trades FROM bars_ohlcv')).rows).toEqual([{ trades: '12' }]);
  });

  it('gives the connection of a refused insert-only COPY back to the pool for the fallback', async () => {
    const one = new PgSqlClient({ connectionString: schema.url, maxConnections: 1 });
    try {
      const bars = makeBars(5, { symbol: 'pool' });
      const spec = { ...BARS };
      expect(await upsertRows(one, spec, bars, { copyMinRows: 1 })).toMatchObject({
        method: 'insert',
      });
      const corrected = bars.map((b) => ({ ...b, close: b.close + 1 }));
      // The key exists: the COPY is refused, and the upsert needs the pool's only connection.
      expect(await upsertRows(one, spec, corrected, { copyMinRows: 1 })).toEqual({
        rows: 5,
        changed: 5,
        method: 'copy',
      });
      const { rows } = await one.query<{ n: string }>(
        `SELECT count(*) AS n FROM bars_ohlcv WHERE symbol = 'POOL' AND close = ANY($1)`,
        [corrected.map((b) => b.close)],
      );
      expect(rows).toEqual([{ n: '5' }]);
    } finally {
      await one.close();
    }
  });

  it('reports rows the database rejects as non-retryable data errors', async () => {
    const [bar] = makeBars(1);
    const err = await upsertRows(db, BARS, [{ ...bar, volume: 'lots' }], {
      copyMinRows: 1_000_000,
    }).catch((e) => e);
    expect(err.code).toBe('22P02');
    expect(isRetryableDbError(err)).toBe(false);
  });

  it('classifies an unreachable server as retryable', async () => {
    const dead = new PgSqlClient({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectTimeoutMs: 1000,
    });
    const err = await dead.query('SELECT 1').catch((e) => e);
    await dead.close();
    expect(isRetryableDbError(err)).toBe(true);
  });
});
