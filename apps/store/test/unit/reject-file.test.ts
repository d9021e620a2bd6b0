import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { open } from 'fs/promises';
import os from 'os';
import path from 'path';
import { RejectFile } from '../../src/rejects/reject-file';

describe('RejectFile', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dlq-'));
    file = path.join(dir, 'nested', 'bars.ndjson');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends one NDJSON record per item with item, error, attempts and ts', async () => {
    const dlq = new RejectFile<{ n: number }>(file);
    await Promise.all([
      dlq.append([{ n: 1 }, { n: 2 }], new Error('boom'), 5),
      dlq.append([{ n: 3 }], 'bad row', 0),
    ]);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.item.n)).toEqual([1, 2, 3]);
    expect(lines[0]).toEqual({
      item: { n: 1 },
      error: 'boom',
      attempts: 5,
      ts: expect.any(Number),
    });
    expect(lines[2]).toMatchObject({ error: 'bad row', attempts: 0 });
    expect(Object.keys(lines[0])).toEqual(['item', 'error', 'attempts', 'ts']);
  });

  it('syncs every append to disk before it resolves (the caller acks what it recorded)', async () => {
    // The FileHandle class, from a handle of our own: its datasync is what reaches the disk.
    const probe = await open(__filename, 'r');
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const original = proto.datasync;
    const synced: number[] = [];
    proto.datasync = function (this: unknown) {
      synced.push(readFileSync(file, 'utf8').split('\n').filter(Boolean).length);
      return original.call(this);
    };
    try {
      const dlq = new RejectFile<{ n: number }>(file);
      await dlq.append([{ n: 1 }, { n: 2 }], 'e', 1);
      await dlq.append([{ n: 3 }], 'e', 1);
    } finally {
      proto.datasync = original;
    }
    expect(synced).toEqual([2, 3]);
  });

  it('lists with offset and limit and skips undecodable lines', async () => {
    const dlq = new RejectFile<{ n: number }>(file);
    await dlq.append(
      [1, 2, 3, 4].map((n) => ({ n })),
      'e',
      1,
    );
    appendFileSync(file, 'not json\n');
    const page = await dlq.list({ offset: 1, limit: 2 });
    expect(page.total).toBe(4);
    expect(page.records.map((r) => r.item.n)).toEqual([2, 3]);
    expect(await new RejectFile(path.join(dir, 'missing.ndjson')).list()).toEqual({
      total: 0,
      records: [],
    });
  });

  it('replays every record and empties the file; corrupt lines are kept aside', async () => {
    const dlq = new RejectFile<{ n: number }>(file);
    await dlq.append(
      [1, 2, 3, 4, 5].map((n) => ({ n })),
      'e',
      1,
    );
    appendFileSync(file, '{"oops"\n');
    const seen: number[][] = [];
    const res = await dlq.replay(async (items) => void seen.push(items.map((i) => i.n)), 2);
    expect(res).toEqual({ replayed: 5, corrupt: 1 });
    expect(seen).toEqual([[1, 2], [3, 4], [5]]);
    expect(await dlq.count()).toBe(0);
    expect(readFileSync(`${file}.corrupt`, 'utf8')).toBe('{"oops"\n');
  });

  it('keeps what was not replayed when the replay fails part-way', async () => {
    const dlq = new RejectFile<{ n: number }>(file);
    await dlq.append(
      [1, 2, 3, 4, 5].map((n) => ({ n })),
      'e',
      1,
    );
    let calls = 0;
    await expect(
      dlq.replay(async () => {
        if (++calls === 2) throw new Error('database down');
      }, 2),
    ).rejects.toThrow('database down');
    const left = await dlq.list();
    expect(left.records.map((r) => r.item.n).sort()).toEqual([3, 4, 5]);
  });

  it('items dead-lettered again during a replay land in the fresh file, not the one being read', async () => {
    const dlq = new RejectFile<{ n: number }>(file);
    await dlq.append([{ n: 1 }], 'e', 1);
    const res = await dlq.replay(async (items) => dlq.append(items, 'still bad', 1));
    expect(res.replayed).toBe(1);
    expect((await dlq.list()).records).toEqual([
      expect.objectContaining({ item: { n: 1 }, error: 'still bad' }),
    ]);
  });
});
