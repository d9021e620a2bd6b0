/**
 * The store against real Redis and PostgreSQL: bars published to `<ns>.md.bars` land in bars_ohlcv
 * exactly once (also when delivered twice), and a database outage opens the circuit, fills the
 * queue, emits `hard`, loses nothing, and after recovery writes everything and emits `ok`.
 */
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import type { FeedbackEvent } from '@mdp/contracts';
import { createEnvelope, createEventBus, EventBus, Subscription } from '@mdp/pulse';
import {
  createTestSchema,
  deleteRedisPrefix,
  describeWithServices,
  redisUrl,
  TcpProxy,
  TestSchema,
  uniqueId,
} from '@mdp/testing';
import { bootstrap, StoreHandle } from '../../src/bootstrap';
import { makeBars, until } from '../helpers/bars';

const ADMIN_TOKEN = 'test-admin-token';
const AUTH = `Bearer ${ADMIN_TOKEN}`;

describeWithServices('store ingest from Redis Streams into PostgreSQL', () => {
  let ns: string;
  let schema: TestSchema;
  let publisher: EventBus;
  let pg: Client;
  let dlqDir: string;
  const stores: StoreHandle[] = [];

  const baseEnv = () => ({
    EVENT_BUS_BACKEND: 'redis',
    REDIS_URL: redisUrl(),
    MD_NAMESPACE: ns,
    MDS_DLQ_DIR: dlqDir,
    LOG_LEVEL: 'silent',
    MDS_COORDINATOR_FLUSH_INTERVAL: '0.02',
    MDS_INGEST_BLOCK_MS: '50',
    MDS_ADMIN_TOKEN: ADMIN_TOKEN,
  });

  async function startStore(
    env: Record<string, string>,
    databaseUrl: string,
  ): Promise<StoreHandle> {
    const store = await bootstrap({
      port: 0,
      handleSignals: false,
      databaseUrl,
      env: { ...baseEnv(), ...env },
    });
    stores.push(store);
    expect(await store.started).toBe(true);
    return store;
  }

  const countBars = async () =>
    Number((await pg.query(`SELECT count(*) AS n FROM "${schema.schema}".bars_ohlcv`)).rows[0].n);

  beforeEach(async () => {
    ns = uniqueId('store');
    schema = await createTestSchema();
    dlqDir = mkdtempSync(path.join(os.tmpdir(), 'store-dlq-'));
    publisher = createEventBus({ backend: 'redis', redisUrl: redisUrl(), namespace: ns });
    pg = new Client({ connectionString: schema.url });
    await pg.connect();
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await publisher.close();
    await pg.end();
    await schema.drop();
    rmSync(dlqDir, { recursive: true, force: true });
    const redis = new Redis(redisUrl());
    await deleteRedisPrefix(redis, ns);
    redis.disconnect();
  });

  it('writes every published bar exactly once, also when the same messages are delivered twice', async () => {
    const store = await startStore({}, schema.url);
    const envelopes = makeBars(400, { symbol: 'aapl' }).map((b) =>
      createEnvelope('md.Bar', b, { key: 'AAPL' }),
    );
    await publisher.publishBatch('md.bars', envelopes);
    await until(async () => (await countBars()) === 400, 20_000, '400 bars written');
    const firstPass = await pg.query(
      `SELECT max(updated_at) AS u FROM "${schema.schema}".bars_ohlcv`,
    );

    // The same envelopes again (a producer retry), and the same bars under new envelope ids.
    await publisher.publishBatch('md.bars', envelopes);
    await publisher.publishBatch(
      'md.bars',
      makeBars(400, { symbol: 'aapl' }).map((b) => createEnvelope('md.Bar', b, { key: 'AAPL' })),
    );
    const redis = new Redis(redisUrl());
    try {
      // Everything read and acknowledged by the store group.
      await until(
        async () => {
          const groups = (await redis.xinfo('GROUPS', `${ns}.md.bars`)) as unknown[][];
          const store = groups
            .map((g) => Object.fromEntries(toPairs(g)))
            .find((g) => g.name === 'store');
          return (
            store !== undefined &&
            Number(store.pending) === 0 &&
            Number(store.lag ?? 0) === 0 &&
            Number(store['entries-read']) === 1200
          );
        },
        20_000,
        'all 1200 entries acked',
      );
    } finally {
      redis.disconnect();
    }
    expect(await countBars()).toBe(400);
    const secondPass = await pg.query(
      `SELECT max(updated_at) AS u FROM "${schema.schema}".bars_ohlcv`,
    );
    expect(secondPass.rows[0].u.getTime()).toBe(firstPass.rows[0].u.getTime());
    const metrics = (await request(store.url).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/pulse_/);
  });

  it('holds everything while the database is down, emits hard then ok, and loses nothing', async () => {
    const target = new URL(schema.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    const feedback: FeedbackEvent[] = [];
    const watcher = createEventBus({ backend: 'redis', redisUrl: redisUrl(), namespace: ns });
    let sub: Subscription | undefined;
    try {
      sub = watcher.subscribe<FeedbackEvent>(
        { stream: 'telemetry.feedback', group: 'test', consumer: 'watcher', blockMs: 50 },
        (env) => {
          feedback.push(env.payload);
        },
      );
      const store = await startStore(
        {
          MDS_COORDINATOR_CAPACITY: '200',
          MDS_COORDINATOR_BATCH_SIZE: '50',
          MDS_COORDINATOR_WORKERS: '2',
          MDS_CB_FAILURE_THRESHOLD: '2',
          MDS_CB_HALF_OPEN_AFTER_SEC: '0.2',
          MDS_RETRY_MAX_ATTEMPTS: '3',
          MDS_RETRY_INITIAL_BACKOFF_MS: '5',
          MDS_RETRY_MAX_BACKOFF_MS: '20',
          MDS_DB_STATEMENT_TIMEOUT_MS: '2000',
          MDS_INGEST_BATCH_SIZE: '100',
        },
        proxy.rewrite(schema.url),
      );
      await request(store.url).get('/ready').expect(200);
      await proxy.down();

      await publisher.publishBatch(
        'md.bars',
        makeBars(1000, { symbol: 'down' }).map((b) => createEnvelope('md.Bar', b, { key: 'DOWN' })),
      );
      await until(
        () => store.coordinator.health().circuit_state !== 'closed',
        20_000,
        'circuit open',
      );
      await until(() => feedback.some((e) => e.level === 'hard'), 20_000, 'hard feedback');
      await until(() => store.coordinator.size === 200, 20_000, 'queue full'); // the reader is blocked, the rest waits on the stream
      await until(
        async () => (await request(store.url).get('/ready')).status === 503,
        20_000,
        'not ready while the circuit is open',
      );
      expect(await countBars()).toBe(0);
      await request(store.url)
        .post('/admin/dlq/bars/replay')
        .set('Authorization', AUTH)
        .expect(503);

      await proxy.up();
      await until(
        async () => (await countBars()) === 1000,
        30_000,
        'all 1000 bars written after recovery',
      );
      const hardAt = feedback.findIndex((e) => e.level === 'hard');
      await until(
        () => feedback.slice(hardAt).some((e) => e.level === 'ok'),
        20_000,
        'ok feedback after hard',
      );
      const ok = feedback.slice(hardAt).find((e) => e.level === 'ok') as FeedbackEvent & {
        reason?: string;
      };
      expect(ok).toMatchObject({ coordinator_id: 'store', capacity: 200, source: 'store' });
      expect(feedback[hardAt]).toMatchObject({
        coordinator_id: 'store',
        capacity: 200,
        queue_size: expect.any(Number),
      });
      expect(feedback[hardAt].queue_size).toBeGreaterThanOrEqual(160);
      await until(
        async () => (await request(store.url).get('/ready')).status === 200,
        20_000,
        'ready again',
      );
      const dlq = await request(store.url).get('/admin/dlq').set('Authorization', AUTH).expect(200);
      expect(dlq.body.bars).toBe(0);
    } finally {
      await sub?.close();
      await watcher.close();
      await proxy.down();
    }
  });

  it('sends rows PostgreSQL refuses to <ns>.md.bars.dlq with the database reason, atomically with the ack', async () => {
    const store = await startStore(
      { MDS_COORDINATOR_BATCH_SIZE: '50', MDS_INGEST_BATCH_SIZE: '50' },
      schema.url,
    );
    const good = makeBars(200, { symbol: 'good' });
    // Valid contracts, but past timestamptz's range: PostgreSQL refuses these rows.
    const refused = makeBars(7, { symbol: 'refused' }).map((b, i) => ({ ...b, ts: 1e13 + i }));
    const mixed = [...good.slice(0, 100), ...refused, ...good.slice(100)];
    const envelopes = mixed.map((b) =>
      createEnvelope('md.Bar', b, { key: b.symbol.toUpperCase() }),
    );
    const refusedIds = new Set(
      envelopes.filter((e) => e.payload.symbol === 'refused').map((e) => e.id),
    );
    await publisher.publishBatch('md.bars', envelopes);

    const redis = new Redis(redisUrl());
    try {
      const dlqKey = `${ns}.md.bars.dlq`;
      await until(
        async () =>
          (await redis.xlen(dlqKey)) >= refused.length && (await countBars()) === good.length,
        20_000,
        'refused rows dead-lettered, the others written',
      );
      await until(
        async () => {
          const groups = (await redis.xinfo('GROUPS', `${ns}.md.bars`)) as unknown[][];
          const group = groups
            .map((g) => Object.fromEntries(toPairs(g)))
            .find((g) => g.name === 'store');
          return group !== undefined && Number(group.pending) === 0 && Number(group.lag ?? 0) === 0;
        },
        20_000,
        'nothing pending',
      );
      const letters = (await redis.xrange(dlqKey, '-', '+')).map(
        ([, f]) => Object.fromEntries(toPairs(f)) as Record<string, string>,
      );
      expect(letters).toHaveLength(refused.length);
      expect(new Set(letters.map((l) => l.id))).toEqual(refusedIds);
      for (const l of letters) {
        expect(l.reason).toMatch(/out of range/);
        expect(l.group).toBe('store');
        expect(l.source_stream).toBe(`${ns}.md.bars`);
      }
      // With a bus the stream's dead letters are the record: nothing in the local file.
      const files = (
        await request(store.url).get('/admin/dlq').set('Authorization', AUTH).expect(200)
      ).body;
      expect(files.bars).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('on shutdown drains what it can and leaves the rest pending on the stream for the next start', async () => {
    const target = new URL(schema.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    const settings = {
      MDS_COORDINATOR_CAPACITY: '100',
      MDS_COORDINATOR_BATCH_SIZE: '25',
      MDS_COORDINATOR_WORKERS: '2',
      MDS_CB_FAILURE_THRESHOLD: '1',
      MDS_CB_HALF_OPEN_AFTER_SEC: '60',
      MDS_COORDINATOR_DRAIN_TIMEOUT: '0.2',
      MDS_INGEST_BATCH_SIZE: '50',
      MDS_CONSUMER_NAME: 'store-restart',
    };
    const redis = new Redis(redisUrl());
    try {
      const first = await startStore(settings, proxy.rewrite(schema.url));
      await proxy.down();
      await publisher.publishBatch(
        'md.bars',
        makeBars(300, { symbol: 'restart' }).map((b) =>
          createEnvelope('md.Bar', b, { key: 'RESTART' }),
        ),
      );
      await until(
        () => first.coordinator.size === 100,
        20_000,
        'queue full while the database is down',
      );
      await first.close(); // what SIGTERM runs: stop reading, drain for 0.2 s, leave the rest
      stores.splice(stores.indexOf(first), 1);
      const pending = (await redis.xpending(`${ns}.md.bars`, 'store')) as [number, ...unknown[]];
      expect(Number(pending[0])).toBeGreaterThan(0); // read but never acked: still owned by the group
      expect(await countBars()).toBe(0);

      await proxy.up();
      await startStore(settings, proxy.rewrite(schema.url));
      await until(
        async () => (await countBars()) === 300,
        30_000,
        'all 300 bars written after the restart',
      );
      await until(
        async () => Number(((await redis.xpending(`${ns}.md.bars`, 'store')) as [number])[0]) === 0,
        20_000,
        'nothing left pending',
      );
    } finally {
      redis.disconnect();
      await proxy.down();
    }
  });
});

function toPairs(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
