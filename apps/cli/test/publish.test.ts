import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEntry } from '@mdp/pulse';
import { describeWithRedis } from '@mdp/testing';
import { isolatedNamespace, mdp } from './helpers';

describeWithRedis('mdp publish (real Redis)', () => {
  const t = isolatedNamespace();
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'mdp-publish-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replays a CSV of bars onto md.bars as envelopes of the configured track; invalid lines are reported', async () => {
    const file = join(dir, 'bars.csv');
    const rows = ['provider,symbol,interval,ts,open,high,low,close,volume'];
    for (let i = 0; i < 250; i++)
      rows.push(`csvtest,AAPL,1m,${1_700_000_000 + i * 60},1,2,0.5,1.5,${i}`);
    rows.push('csvtest,AAPL,1m,2023-11-14T22:13:20Z,1,2,0.5,1.5,1'); // ISO time: valid
    rows.push('csvtest,AAPL,1m,1700000000,5,2,0.5,1.5,1'); // open above high: invalid
    writeFileSync(file, rows.join('\n') + '\n');
    const r = await mdp(['publish', '--file', file], t.env);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `published 251 record(s) to ${t.ns}.md.bars; 1 invalid line(s) skipped`,
    );
    expect(r.err).toContain('bars.csv:253');
    expect(await t.redis.xlen(`${t.ns}.md.bars`)).toBe(251);
    const [[, fields]] = await t.redis.xrange(`${t.ns}.md.bars`, '-', '+', 'COUNT', 1);
    const decoded = decodeEntry(fields);
    expect(decoded.ok && decoded.envelope).toMatchObject({
      key: 'AAPL',
      meta: { schema_id: 'md.Bar', track: 'v1' },
      payload: { provider: 'csvtest', symbol: 'AAPL', ts: 1_700_000_000 },
    });
  });

  it('a missing file is a clear error', async () => {
    const r = await mdp(['publish', '--file', join(dir, 'nope.csv')], t.env);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot read');
    expect(r.err).toContain('nope.csv');
  });
});
