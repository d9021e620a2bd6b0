import Redis from 'ioredis';
import { Client } from 'pg';
import {
  createTestSchema,
  deleteRedisPrefix,
  describeWithPostgres,
  describeWithRedis,
  redisUrl,
  uniqueId,
} from '../src';

describe('uniqueId', () => {
  it('is a valid identifier and unique', () => {
    const ids = new Set(Array.from({ length: 100 }, () => uniqueId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^t[a-z0-9]+$/);
  });
});

describeWithRedis('redis fixture', () => {
  it('deletes only keys under its prefix', async () => {
    const redis = new Redis(redisUrl());
    const mine = uniqueId();
    const other = uniqueId();
    try {
      await redis.set(`${mine}:a`, '1');
      await redis.set(`${mine}:b`, '1');
      await redis.set(`${other}:a`, '1');
      await deleteRedisPrefix(redis, mine);
      expect(await redis.exists(`${mine}:a`, `${mine}:b`)).toBe(0);
      expect(await redis.exists(`${other}:a`)).toBe(1);
    } finally {
      await deleteRedisPrefix(redis, other);
      redis.disconnect();
    }
  });
});

describeWithPostgres('postgres fixture', () => {
  it('gives each suite its own schema and drops it', async () => {
    const s = await createTestSchema();
    const c = new Client({ connectionString: s.url });
    await c.connect();
    await c.query('CREATE TABLE probe (x int)');
    const { rows } = await c.query(
      `SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'`,
    );
    expect(rows.map((r) => r.table_schema)).toContain(s.schema);
    await c.end();
    await s.drop();
    const c2 = new Client({ connectionString: s.url.replace(/\?.*$/, '') });
    await c2.connect();
    const gone = await c2.query(
      'SELECT 1 FROM information_schema.schemata WHERE schema_name = $1',
      [s.schema],
    );
    expect(gone.rowCount).toBe(0);
    await c2.end();
  });
});
