import { PgSqlClient } from '@mdp/sql';
import { createTestSchema, describeWithPostgres, TestSchema } from '@mdp/testing';
import { runMigrations } from '../../src/sinks/migrations';
import { PG_EPOCH_OFFSET_SEC, pgMicros } from '../../src/sinks/pg-time';
import { StoreSink } from '../../src/sinks/store-sink';
import type { UpsertResult } from '../../src/sinks/upsert';
import { makeBars, tupleItems } from '../helpers/bars';

// Its own file: the insert-only path's cooldown after a refused COPY is per table and per process.
describeWithPostgres('bars held as COPY tuples', () => {
  let schema: TestSchema;
  let db: PgSqlClient;

  beforeAll(async () => {
    schema = await createTestSchema();
    db = new PgSqlClient({ connectionString: schema.url, maxConnections: 2 });
    await runMigrations(db);
  });

  afterAll(async () => {
    await db?.close();
    await schema?.drop();
  });

  it('are COPYed as they are; a replay falls back on the decoded rows and finds the same keys', async () => {
    const results: UpsertResult[] = [];
    const sink = new StoreSink(db, { copyMinRows: 1, onWritten: (_, r) => void results.push(r) });
    // Sub-microsecond fractions: a decoded ts must round to the key its tuple carried.
    const bars = makeBars(20, { symbol: 'msft', provider: 'tuples' }).map((b, i) => ({
      ...b,
      ts: b.ts + i * 0.000_123_5,
      trades: i % 2 ? 100 + i : undefined,
    }));
    const rows = async () =>
      (
        await db.query<{
          symbol: string;
          us: string;
          close: number;
          trades: string | null;
          updated_at: Date;
        }>(`SELECT symbol, (extract(epoch FROM ts) * 1000000)::bigint AS us, close, trades, updated_at
           FROM bars_ohlcv ORDER BY ts`)
      ).rows;

    await sink.write(tupleItems('bars', bars));
    const before = await rows();
    await sink.write(tupleItems('bars', bars));
    const corrected = bars.map((b, i) => (i === 3 ? { ...b, close: b.close + 0.5 } : b));
    await sink.write(tupleItems('bars', corrected));

    expect(results).toEqual([
      { rows: 20, changed: 20, method: 'insert' },
      { rows: 20, changed: 0, method: 'copy' },
      { rows: 20, changed: 1, method: 'copy' },
    ]);
    const after = await rows();
    expect(after.map((r) => [r.symbol, Number(r.us), r.close, r.trades])).toEqual(
      corrected.map((b) => [
        'MSFT',
        pgMicros(b.ts) + PG_EPOCH_OFFSET_SEC * 1e6,
        b.close,
        b.trades ? String(b.trades) : null,
      ]),
    );
    expect(after[4].updated_at.getTime()).toBe(before[4].updated_at.getTime());
    expect(after[3].updated_at.getTime()).toBeGreaterThan(before[3].updated_at.getTime());
  });
});
