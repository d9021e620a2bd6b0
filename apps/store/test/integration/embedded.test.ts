/**
 * Embedded mode end to end: no DATABASE_URL (PGlite on disk, in a directory whose parents do not exist yet), in-memory bus, the Nest app with its
 * HTTP endpoints, in-process writes, stream ingest from the shared bus, and DLQ list/replay.
 * PGlite costs ~2 s and ~700 MB per instance, so this is the only suite that starts one.
 */
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import request from 'supertest';
import { createEnvelope, createEventBus, EventBus } from '@mdp/pulse';
import { bootstrap, StoreHandle } from '../../src/bootstrap';
import { SQL_CLIENT } from '../../src/app/tokens';
import type { SqlClient } from '@mdp/sql';
import { makeBars, until } from '../helpers/bars';

const ADMIN_TOKEN = 'test-admin-token';
const AUTH = `Bearer ${ADMIN_TOKEN}`;

describe('store in embedded mode (PGlite + in-memory bus)', () => {
  let store: StoreHandle;
  let bus: EventBus;
  let db: SqlClient;
  let dlqDir: string;
  let pgDir: string;

  beforeAll(async () => {
    dlqDir = mkdtempSync(path.join(os.tmpdir(), 'store-dlq-'));
    pgDir = mkdtempSync(path.join(os.tmpdir(), 'store-pglite-'));
    bus = createEventBus({ backend: 'inmem', namespace: 'embedded' });
    store = await bootstrap({
      port: 0,
      bus,
      handleSignals: false,
      env: {
        MDS_PGLITE_DIR: path.join(pgDir, 'nested', 'pglite'),
        MDS_DLQ_DIR: dlqDir,
        LOG_LEVEL: 'silent',
        MDS_COORDINATOR_FLUSH_INTERVAL: '0.02',
        MD_NAMESPACE: 'embedded',
        MDS_ADMIN_TOKEN: ADMIN_TOKEN,
      },
    });
    expect(await store.started).toBe(true);
    db = store.app.get(SQL_CLIENT);
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await bus?.close();
    rmSync(dlqDir, { recursive: true, force: true });
    rmSync(pgDir, { recursive: true, force: true });
  });

  const count = async (table: string) =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  it('writes in-process rows idempotently, upper-casing symbols', async () => {
    const bars = makeBars(50, { symbol: 'msft' });
    expect(await store.write('bars', bars)).toMatchObject({
      submitted: 50,
      written: 50,
      dead_lettered: 0,
    });
    expect(await store.write('bars', bars)).toMatchObject({ written: 50 });
    expect(await count('bars_ohlcv')).toBe(50);
    const symbols = await db.query<{ symbol: string }>('SELECT DISTINCT symbol FROM bars_ohlcv');
    expect(symbols.rows).toEqual([{ symbol: 'MSFT' }]);
  });

  it('counts rows the upsert actually changed: an identical replay changes none (mds_rows_changed_total)', async () => {
    const changed = async () => {
      const text = (await request(store.url).get('/metrics').expect(200)).text;
      return Number(/^mds_rows_changed_total\{sink="bars"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const before = await changed();
    expect(before).toBeGreaterThanOrEqual(0);
    const bars = makeBars(20, { symbol: 'chg' });
    await store.write('bars', bars);
    expect(await changed()).toBe(before + 20);
    await store.write('bars', bars); // a replay of the same bars rewrites nothing
    expect(await changed()).toBe(before + 20);
    await store.write('bars', [
      { ...bars[3], close: bars[3].close + 0.5, high: Math.max(bars[3].high, bars[3].close + 0.5) },
    ]);
    expect(await changed()).toBe(before + 21);
  });

  it('ingests bars published on the shared bus and acks them', async () => {
    const bars = makeBars(30, { symbol: 'ibm' });
    await bus.publishBatch(
      'md.bars',
      bars.map((b) => createEnvelope('md.Bar', b, { key: b.symbol })),
    );
    await until(
      async () =>
        Number(
          (
            await db.query<{ n: string }>(
              "SELECT count(*) AS n FROM bars_ohlcv WHERE symbol = 'IBM'",
            )
          ).rows[0].n,
        ) === 30,
    );
  });

  it('ingests options, news and fundamentals from their streams', async () => {
    await bus.publish(
      'md.options',
      createEnvelope('md.OptionSnap', {
        provider: 's',
        symbol: 'qqq',
        expiry: '2025-03-21',
        option_type: 'P',
        strike: 300,
        ts: 1_700_000_060,
      }),
    );
    await bus.publish(
      'md.news',
      createEnvelope('md.News', {
        provider: 's',
        id: 'n-stream',
        published_at: 1_700_000_000,
        title: 'From the stream',
      }),
    );
    await bus.publish(
      'md.fundamentals',
      createEnvelope('md.Fundamentals', {
        provider: 's',
        symbol: 'qqq',
        asof: 1_700_000_000,
        eps: 2,
      }),
    );
    await until(async () => (await count("option_snapshots WHERE provider = 's'")) === 1);
    await until(async () => (await count("news WHERE provider = 's'")) === 1);
    await until(async () => (await count("fundamentals WHERE provider = 's'")) === 1);
  });

  it('writes the other kinds to their tables', async () => {
    await store.write('options', [
      {
        provider: 'p',
        symbol: 'spy',
        expiry: '2025-01-17',
        option_type: 'C',
        strike: 450,
        ts: 1_700_000_000,
        iv: 0.2,
      },
    ]);
    await store.write('news', [
      {
        provider: 'p',
        id: 'n1',
        published_at: 1_700_000_000,
        title: 'Hello',
        symbols: ['aapl', 'msft'],
      },
    ]);
    await store.write('fundamentals', [
      { provider: 'p', symbol: 'aapl', asof: 1_700_000_000, eps: 1.5, currency: 'USD' },
    ]);
    expect(await count("option_snapshots WHERE provider = 'p'")).toBe(1);
    expect(await count("news WHERE provider = 'p'")).toBe(1);
    expect(await count("fundamentals WHERE provider = 'p'")).toBe(1);
    const news = await db.query<{ symbols: string[] }>(
      "SELECT symbols FROM news WHERE provider = 'p'",
    );
    expect(news.rows[0].symbols).toEqual(['AAPL', 'MSFT']);
  });

  it('dead-letters invalid rows, lists and replays them over HTTP', async () => {
    const bad = { ...makeBars(1, { symbol: 'bad' })[0], high: 1 }; // high below open/close: contract violation
    const report = await store.write('bars', [bad]);
    expect(report).toMatchObject({ invalid: 1, dead_lettered: 1, written: 0 });

    const summary = await request(store.url)
      .get('/admin/dlq')
      .set('Authorization', AUTH)
      .expect(200);
    expect(summary.body.bars).toBe(1);
    const listed = await request(store.url)
      .get('/admin/dlq/bars')
      .set('Authorization', AUTH)
      .expect(200);
    expect(listed.body.records[0]).toMatchObject({ item: { symbol: 'bad' }, attempts: 0 });
    expect(listed.body.records[0].error).toMatch(/high/);

    // Still invalid: replay puts it back (dead-lettered again), nothing is lost.
    const replay = await request(store.url)
      .post('/admin/dlq/bars/replay')
      .set('Authorization', AUTH)
      .expect(201);
    expect(replay.body).toMatchObject({ replayed: 1, invalid: 1 });
    expect(
      (await request(store.url).get('/admin/dlq').set('Authorization', AUTH).expect(200)).body.bars,
    ).toBe(1);
    await request(store.url).get('/admin/dlq/nope').set('Authorization', AUTH).expect(400);
    await request(store.url).get('/admin/dlq').expect(401);
    await request(store.url).get('/admin/dlq').set('Authorization', 'Bearer wrong').expect(401);
  });

  it('serves /health, /ready and /metrics', async () => {
    const health = await request(store.url).get('/health').expect(200);
    expect(health.body.service).toBe('store');
    expect(health.body.components.map((c: { name: string }) => c.name).sort()).toEqual([
      'bus',
      'circuit',
      'coordinator',
      'database',
    ]);
    await request(store.url).get('/ready').expect(200);
    const metrics = (await request(store.url).get('/metrics').expect(200)).text;
    for (const name of [
      'mds_coord_items_submitted_total',
      'mds_coord_items_dropped_total',
      'mds_coord_queue_depth',
      'mds_coord_workers_alive',
      'mds_worker_batches_written_total',
      'mds_worker_write_errors_total',
      'mds_worker_write_latency_seconds',
      'mds_coord_circuit_state',
      'mds_feedback_events_total',
      'mds_dlq_records_total',
      'process_cpu_user_seconds_total',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/mds_coord_workers_alive\{coord_id="store"\} 4/);
    expect(metrics).toMatch(
      new RegExp(
        `mds_coord_queue_capacity\\{coord_id="store"\\} ${store.env.MDS_COORDINATOR_CAPACITY}\\n`,
      ),
    );
  });
});
