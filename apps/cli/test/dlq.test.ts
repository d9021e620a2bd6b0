import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RejectFiles } from '@mdp/store/dist/rejects/reject-files';
import { describeWithRedis } from '@mdp/testing';
import { bar, barEnvelope, isolatedNamespace, mdp, until } from './helpers';

describeWithRedis('mdp dlq (real Redis, and the store file DLQ)', () => {
  const t = isolatedNamespace();
  let dlqIds: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++)
      await t.bus.publish('md.news', {
        ...barEnvelope('MSFT', 1_700_000_000 + i),
        meta: { schema_id: 'md.News', track: 'v1', headers: {} },
        payload: { bad: i },
      });
    // Entries that fail their contract are dead-lettered by the bus itself.
    const sub = t.bus.subscribeBatch(
      { stream: 'md.news', group: 'store', consumer: 'c1', blockMs: 100 },
      (batch) => batch.forEach((d) => d.ack()),
    );
    await until(async () => (await t.redis.xlen(`${t.ns}.md.news.dlq`)) === 2);
    await sub.close();
    dlqIds = (await t.redis.xrange(`${t.ns}.md.news.dlq`, '-', '+')).map(([id]) => id);
  });

  it('list without a stream: every dead-letter stream with its size, then the file DLQ counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdp-dlq-'));
    try {
      const r = await mdp(['dlq', 'list'], { ...t.env, MDS_DLQ_DIR: dir });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`${t.ns}\\.md\\.news\\.dlq\\s+2`));
      expect(r.out).toContain('"bars":0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("list and show a stream's dead letters with the reason", async () => {
    const list = await mdp(['dlq', 'list', 'md.news', '--json'], t.env);
    expect(list.code).toBe(0);
    const letters = JSON.parse(list.out);
    expect(letters.map((l: { dlq_entry_id: string }) => l.dlq_entry_id)).toEqual(dlqIds);
    expect(letters[0].reason).toContain('schema');
    const show = await mdp(['dlq', 'show', 'md.news', dlqIds[1]], t.env);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.out)).toMatchObject({
      dlq_entry_id: dlqIds[1],
      envelope: { payload: { bad: 1 } },
    });
    const missing = await mdp(['dlq', 'show', 'md.news', '0-1'], t.env);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no dead letter 0-1');
  });

  it('replay puts the chosen dead letters back on their stream', async () => {
    expect((await mdp(['dlq', 'replay', 'md.news'], t.env)).err).toContain('--all');
    const before = await t.redis.xlen(`${t.ns}.md.news`);
    const one = await mdp(['dlq', 'replay', 'md.news', dlqIds[0]], t.env);
    expect(one.out).toContain('replayed 1 dead letter(s)');
    expect(await t.redis.xlen(`${t.ns}.md.news.dlq`)).toBe(1);
    const all = await mdp(['dlq', 'replay', 'md.news', '--all'], t.env);
    expect(all.out).toContain('replayed 1 dead letter(s)');
    expect(await t.redis.xlen(`${t.ns}.md.news.dlq`)).toBe(0);
    expect(await t.redis.xlen(`${t.ns}.md.news`)).toBe(before + 2);
  });

  it("--sink reads the store's file DLQ through the store's dlq CLI", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdp-dlq-'));
    try {
      await new RejectFiles(dir).record(
        'bars',
        [bar('AAPL', 1), bar('IBM', 2)] as never[],
        'value out of range',
        3,
      );
      const list = await mdp(['dlq', 'list', '--sink', 'bars'], { ...t.env, MDS_DLQ_DIR: dir });
      expect(list.code).toBe(0);
      expect(JSON.parse(list.out)).toMatchObject({ sink: 'bars', total: 2 });
      const show = await mdp(['dlq', 'show', '--sink', 'bars', '1'], {
        ...t.env,
        MDS_DLQ_DIR: dir,
      });
      expect(JSON.parse(show.out).records).toHaveLength(1);
      expect(show.out).toContain('IBM');
      expect(
        (await mdp(['dlq', 'list', '--sink', 'nope'], { ...t.env, MDS_DLQ_DIR: dir })).err,
      ).toContain('unknown sink "nope"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
