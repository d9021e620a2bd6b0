import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import { Client } from 'pg';
import { createTestSchema, describeWithPostgres, TestSchema } from '@mdp/testing';
import { runCli } from '../../src/cli';
import { RejectFiles } from '../../src/rejects/reject-files';
import { makeBars } from '../helpers/bars';

describeWithPostgres('dlq CLI', () => {
  let schema: TestSchema;
  let dir: string;

  beforeAll(async () => {
    schema = await createTestSchema();
    dir = mkdtempSync(path.join(os.tmpdir(), 'store-cli-'));
  });

  afterAll(async () => {
    await schema?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists, counts and replays dead letters into the database', async () => {
    const env = {
      DATABASE_URL: schema.url,
      MDS_DLQ_DIR: dir,
      MDS_COORDINATOR_FLUSH_INTERVAL: '0.01',
    };
    const dlq = new RejectFiles(dir);
    await dlq.record('bars', makeBars(3, { symbol: 'cli' }), new Error('connection terminated'), 5);
    const lines: string[] = [];
    const out = (l: string) => void lines.push(l);

    expect(await runCli(['dlq', 'count'], env, out)).toBe(0);
    expect(JSON.parse(lines.pop()!)).toEqual({ bars: 3, options: 0, news: 0, fundamentals: 0 });
    expect(await runCli(['dlq', 'list', '--sink', 'bars', '--limit', '2'], env, out)).toBe(0);
    const listed = JSON.parse(lines.pop()!);
    expect(listed.total).toBe(3);
    expect(listed.records).toHaveLength(2);
    expect(listed.records[0]).toMatchObject({
      error: 'connection terminated',
      attempts: 5,
      item: { symbol: 'cli' },
    });

    expect(await runCli(['dlq', 'replay', '--sink', 'bars'], env, out)).toBe(0);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ sink: 'bars', replayed: 3, written: 3 });
    expect(await dlq.file('bars').count()).toBe(0);
    const pg = new Client({ connectionString: schema.url });
    await pg.connect();
    const n = await pg.query('SELECT count(*)::int AS n FROM bars_ohlcv');
    await pg.end();
    expect(n.rows[0].n).toBe(3);

    expect(await runCli(['dlq', 'nope'], env, out)).toBe(2);
    await expect(runCli(['dlq', 'list'], env, out)).rejects.toThrow('--sink is required');
  });
});
