import { describeWithRedis } from '@mdp/testing';
import { barEnvelope, isolatedNamespace, mdp, until } from './helpers';

describeWithRedis('mdp streams, tail and errors (real Redis)', () => {
  const t = isolatedNamespace();

  it('an unreachable Redis is an error naming the URL', async () => {
    const r = await mdp(['streams'], { ...t.env, REDIS_URL: 'redis://127.0.0.1:1/0' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach Redis at redis://127.0.0.1:1/0');
    expect(r.err).toContain('ECONNREFUSED');
  });

  it('an unknown stream lists the known ones', async () => {
    const r = await mdp(['tail', 'md.nope'], t.env);
    expect(r.code).toBe(1);
    expect(r.err).toContain('unknown stream "md.nope"');
    expect(r.err).toContain('known streams: md.bars, md.options');
    expect(r.err).toContain('control.actions');
  });

  it('streams: length, groups with pending and lag, dead letters', async () => {
    for (let i = 0; i < 3; i++)
      await t.bus.publish('md.bars', barEnvelope('AAPL', 1_700_000_000 + i * 60));
    const seen: string[] = [];
    // Holds the first delivery unacked (pending), dead-letters the second, acks the rest.
    const sub = t.bus.subscribeBatch(
      { stream: 'md.bars', group: 'store', consumer: 'c1', maxDeliveries: 1, blockMs: 100 },
      (batch) => {
        for (const d of batch) {
          seen.push(d.entryId);
          if (seen.length === 1) continue;
          if (seen.length === 2) d.fail('test: refused');
          else d.ack();
        }
      },
    );
    await until(async () => seen.length === 3 && (await t.redis.xlen(`${t.ns}.md.bars.dlq`)) === 1);
    await sub.close();
    const r = await mdp(['streams', '--json'], t.env);
    expect(r.code).toBe(0);
    const bars = JSON.parse(r.out).find((s: { stream: string }) => s.stream === 'md.bars');
    expect(bars).toMatchObject({
      physical: `${t.ns}.md.bars`,
      exists: true,
      length: 3,
      dlq: 1,
      schemaIds: ['md.Bar'],
    });
    expect(bars.groups).toEqual([{ name: 'store', consumers: 1, pending: 1, lag: 0 }]);
    const text = await mdp(['streams'], t.env);
    expect(text.out).toMatch(new RegExp(`${t.ns}\\.md\\.bars\\s+3\\s+1\\s+store\\s+1\\s+1\\s+0`));
    expect(text.out).toContain(`${t.ns}.md.news`);
  });

  it('tail prints decoded envelopes as they arrive, without joining a group', async () => {
    const stop = new AbortController();
    const tail = mdp(['tail', `${t.ns}.telemetry.feedback`, '--count', '2'], t.env, {
      signal: stop.signal,
    });
    await new Promise((r) => setTimeout(r, 300)); // tail reads new entries only
    const feedback = {
      coordinator_id: 'store',
      queue_size: 5,
      capacity: 10,
      level: 'soft',
      source: 'store',
      ts: 1_700_000_000,
    };
    await t.bus.publish('telemetry.feedback', {
      id: 'fb-1',
      key: 'store',
      ts: 1_700_000_000,
      meta: { schema_id: 'telemetry.FeedbackEvent', track: 'v1', headers: {} },
      payload: feedback,
    });
    await t.redis.xadd(`${t.ns}.telemetry.feedback`, '*', 'envelope', '{not json');
    const r = await tail;
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      id: 'fb-1',
      meta: { schema_id: 'telemetry.FeedbackEvent' },
      payload: { level: 'soft', queue_size: 5 },
    });
    expect(lines[1].invalid).toContain('not valid JSON');
    expect(await t.redis.xinfo('GROUPS', `${t.ns}.telemetry.feedback`)).toEqual([]);
  });
});
