/**
 * Redis-only acceptance: the wire format with raw ioredis, crash recovery with idempotency, a killed
 * connection, a long pending list with trimmed entries, metrics registries.
 */
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { decodeEnvelope } from '@mdp/contracts';
import { deleteRedisPrefix, describeWithRedis, redisUrl } from '@mdp/testing';
import { barEnvelope, waitFor } from './helpers';
import { redisBed } from './redis-bed';
import { consumerBeatsKey } from '../src/redis/redis-transport';
import { calculateSlot } from '../src/redis/slot';

describeWithRedis('pulse on real Redis', () => {
  const bed = redisBed('pulse');
  const bus = bed.bus;

  const pendingCount = async (stream: string, group: string) =>
    Number(((await bed.raw.xpending(stream, group)) as [number])[0]);

  describe('wire format', () => {
    it('writes one entry per envelope with the fields id, schema_id, track, envelope (in that order)', async () => {
      const b = bus();
      const env = barEnvelope(1);
      const entryId = await b.publish('md.bars', env);
      const [[id, fields]] = (await bed.raw.xrange(`${bed.ns}.md.bars`, '-', '+')) as [
        string,
        string[],
      ][];
      expect(id).toBe(entryId);
      expect(entryId).toMatch(/^\d+-\d+$/);
      expect(entryId).not.toBe(env.id);
      expect(fields).toEqual([
        'id',
        env.id,
        'schema_id',
        'md.Bar',
        'track',
        'v1',
        'envelope',
        JSON.stringify(env),
      ]);
    });

    it('a foreign consumer reads and acks our entries with plain XREADGROUP', async () => {
      const b = bus();
      const sent = [barEnvelope(1), barEnvelope(2)];
      await b.publishBatch('md.bars', sent);
      const stream = `${bed.ns}.md.bars`;
      await bed.raw.xgroup('CREATE', stream, 'foreign', '0');
      const reply = (await bed.raw.xreadgroup(
        'GROUP',
        'foreign',
        'py-1',
        'COUNT',
        10,
        'STREAMS',
        stream,
        '>',
      )) as [string, [string, string[]][]][];
      const entries = reply[0][1];
      const decoded = entries.map(([, f]) => {
        const obj = Object.fromEntries(
          Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]]),
        );
        const res = decodeEnvelope(JSON.parse(obj.envelope));
        if (!res.ok) throw res.error;
        expect(obj.id).toBe(res.value.id);
        return res.value.id;
      });
      expect(decoded).toEqual(sent.map((e) => e.id));
      expect(await bed.raw.xack(stream, 'foreign', ...entries.map(([id]) => id))).toBe(2);
    });

    it('consumes an entry a foreign producer wrote with plain XADD (only the envelope field is required)', async () => {
      const b = bus();
      const env = barEnvelope(3);
      await bed.raw.xadd(`${bed.ns}.md.bars`, '*', 'envelope', JSON.stringify(env));
      await bed.raw.xadd(
        `${bed.ns}.md.bars`,
        '*',
        'id',
        'e2',
        'schema_id',
        'md.Bar',
        'track',
        'v2',
        'envelope',
        JSON.stringify({ ...env, id: 'e2', meta: { ...env.meta, track: 'v2' } }),
        'x-extra',
        'ignored',
      );
      const got: string[] = [];
      b.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', blockMs: 20 },
        (e) => void got.push(`${e.id}/${e.meta.track}`),
      );
      await waitFor(() => got.length === 2, 'both foreign entries');
      expect(got).toEqual([`${env.id}/v1`, 'e2/v2']);
    });
  });

  it('crash: consumer A dies holding a batch; B reclaims; every id handled exactly once; nothing pending', async () => {
    const N = 10_000;
    const stream = `${bed.ns}.md.bars`;
    const producer = bus();
    const sent = Array.from({ length: N }, (_, i) => barEnvelope(i, `S${i % 37}`));
    for (let i = 0; i < N; i += 2000)
      await producer.publishBatch('md.bars', sent.slice(i, i + 2000));

    const handled = new Map<string, number>();
    const record = (id: string) => handled.set(id, (handled.get(id) ?? 0) + 1);
    const a = bus({ clientName: `${bed.ns}-a` });
    let stuck!: () => void;
    a.subscribe(
      {
        stream: 'md.bars',
        group: 'store',
        consumer: 'a',
        batchSize: 1000,
        maxInFlight: 1000,
        blockMs: 20,
        idempotency: 'shared',
      },
      (e) => {
        if (handled.size === 500) return new Promise<void>((r) => (stuck = r)); // hangs mid-batch, never acks
        record(e.id);
      },
    );
    await waitFor(() => stuck !== undefined, 'A handled 500 and hangs');
    // A's idempotency marks are durable before it dies (they are written as it goes, acks are not).
    const marks = async () => {
      let n = 0;
      let cursor = '0';
      do {
        const [next, keys] = await bed.raw.scan(
          cursor,
          'MATCH',
          `${bed.ns}.idem.store.*`,
          'COUNT',
          1000,
        );
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      return n;
    };
    await waitFor(async () => (await marks()) === 500, '500 marks');
    // The 500 handled are acked while the handler hangs on the 501st (acks do not wait for the batch
    // to finish), or still pending if A dies first: either way the other 500 are pending.
    a.disconnect();
    await new Promise((r) => setTimeout(r, 50)); // anything A had written reaches Redis
    const pendingAtDeath = await pendingCount(stream, 'store');
    expect(pendingAtDeath).toBeGreaterThanOrEqual(500);
    expect(pendingAtDeath).toBeLessThanOrEqual(1000);

    const registry = new Registry();
    const b = bus({ registry });
    b.subscribe(
      {
        stream: 'md.bars',
        group: 'store',
        consumer: 'b',
        batchSize: 1000,
        blockMs: 50,
        minIdleMs: 100,
        idempotency: 'shared',
      },
      (e) => {
        record(e.id);
      },
    );
    await waitFor(() => handled.size === N, `all ${N} handled`, 30_000);
    await waitFor(
      async () => (await pendingCount(stream, 'store')) === 0,
      'XPENDING empty',
      30_000,
    );
    stuck();
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(sent.map((e) => e.id))).toEqual(new Set(handled.keys()));
    const consumed = await registry.getSingleMetric('pulse_consume_total')!.get();
    // What A handled but had not acked comes back to B and is dropped by the shared idempotency store.
    expect(consumed.values.find((v) => v.labels.outcome === 'duplicate')?.value ?? 0).toBe(
      pendingAtDeath - 500,
    );
    expect(consumed.values.find((v) => v.labels.outcome === 'success')?.value).toBe(N - 500);
  });

  it('survives CLIENT KILL of its connections during consumption without loss', async () => {
    const N = 3000;
    const stream = `${bed.ns}.md.bars`;
    const producer = bus();
    const sent = Array.from({ length: N }, (_, i) => barEnvelope(i));
    const clientName = `${bed.ns}-victim`;
    const c = bus({ clientName });
    const handled = new Set<string>();
    c.subscribe(
      { stream: 'md.bars', group: 'g', consumer: 'c1', batchSize: 50, blockMs: 50, minIdleMs: 300 },
      async (e) => {
        handled.add(e.id);
        if (handled.size % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      },
    );
    const publishing = (async () => {
      for (let i = 0; i < N; i += 100) {
        await producer.publishBatch('md.bars', sent.slice(i, i + 100));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => handled.size >= 500, '500 handled before the kill');
    const list = await bed.raw.client('LIST');
    const victims = String(list)
      .split('\n')
      .filter((l) => l.includes(`name=${clientName}`))
      .map((l) => /id=(\d+)/.exec(l)![1]);
    // The command connection, the hot path (`${clientName}:hot`: acks) and the reader
    // (`${clientName}:${bed.ns}:g:c1`).
    expect(victims.length).toBe(3);
    for (const id of victims) await bed.raw.client('KILL', 'ID', id);
    await publishing;
    await waitFor(() => handled.size === N, `all ${N} handled after the kill`, 20_000);
    await waitFor(async () => (await pendingCount(stream, 'g')) === 0, 'nothing pending', 20_000);
    expect(new Set(sent.map((e) => e.id))).toEqual(handled);
  });

  it("reads with the URL's credentials and database, under the reader's client name", async () => {
    const user = `${bed.ns}-user`;
    await bed.raw.acl('SETUSER', user, 'on', '>s3cret', '~*', '&*', '+@all');
    const url = new URL(redisUrl());
    url.username = user;
    url.password = 's3cret';
    url.pathname = '/5';
    const db5 = new Redis(url.toString());
    try {
      const b = bus({ redisUrl: url.toString() });
      const sent = Array.from({ length: 20 }, (_, i) => barEnvelope(i));
      await b.publishBatch('md.bars', sent);
      const got: string[] = [];
      b.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', batchSize: 7, blockMs: 20 },
        (e) => void got.push(e.id),
      );
      await waitFor(() => got.length === 20, 'all 20 read from database 5');
      expect(got).toEqual(sent.map((e) => e.id));
      expect(await bed.raw.exists(`${bed.ns}.md.bars`)).toBe(0);
      expect(await db5.xlen(`${bed.ns}.md.bars`)).toBe(20);
      const clients = String(await bed.raw.client('LIST'));
      expect(clients).toMatch(new RegExp(`name=${bed.ns}:${bed.ns}:g:c .*user=${user}`));
    } finally {
      await deleteRedisPrefix(db5, bed.ns);
      await db5.quit();
      await bed.raw.acl('DELUSER', user);
    }
  });

  it('keeps retrying, without crashing, while Redis rejects the credentials', async () => {
    const url = new URL(redisUrl());
    url.username = `${bed.ns}-nobody`;
    url.password = 'wrong';
    const warnings: string[] = [];
    const logger = {
      warn: (obj: object, msg: string) => void warnings.push(`${msg} ${JSON.stringify(obj)}`),
      info: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    };
    // Redis counts the refused logins per user in its ACL log: the retries, without a log line each.
    const refusedLogins = async () => {
      const entries = (await bed.raw.call('ACL', 'LOG', '128')) as unknown[][];
      const mine = entries
        .map((e) => Object.fromEntries(toPairs(e)))
        .find((e) => e.username === url.username);
      return Number(mine?.count ?? 0);
    };
    const b = bus({ redisUrl: url.toString(), logger });
    b.subscribe({ stream: 'md.bars', group: 'g', consumer: 'c', blockMs: 20 }, () => undefined);
    await waitFor(() => warnings.length >= 1, 'the failure logged');
    const refused = await refusedLogins();
    await waitFor(async () => (await refusedLogins()) >= refused + 2, 'two more attempts');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/WRONGPASS|NOAUTH|invalid username-password/i);
  });

  it('reclaims a long pending list (XPENDING IDLE + XCLAIM), carrying the cursor, and drops entries trimmed away', async () => {
    const stream = `${bed.ns}.md.bars`;
    const producer = bus();
    const sent = Array.from({ length: 2500 }, (_, i) => barEnvelope(i));
    const ids = await producer.publishBatch('md.bars', sent);
    await bed.raw.xgroup('CREATE', stream, 'g', '0');
    await bed.raw.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 5000, 'STREAMS', stream, '>');
    const trimmed = [ids[0], ids[1000], ids[2499]];
    await bed.raw.xdel(stream, ...trimmed);
    expect(await pendingCount(stream, 'g')).toBe(2500);

    const b = bus();
    const handled = new Map<string, number>();
    b.subscribe(
      {
        stream: 'md.bars',
        group: 'g',
        consumer: 'live',
        batchSize: 100,
        blockMs: 20,
        minIdleMs: 10,
        reclaimIntervalMs: 20,
      },
      (e, d) => {
        handled.set(e.id, d.deliveryCount);
      },
    );
    await waitFor(() => handled.size === 2497, 'all live entries reclaimed', 20_000);
    await waitFor(
      async () => (await pendingCount(stream, 'g')) === 0,
      'trimmed entries gone from the PEL',
    );
    expect([...handled.values()].every((n) => n === 2)).toBe(true);
  });

  it('dead-letters an entry whose consumers keep dying once it exceeds maxDeliveries', async () => {
    const stream = `${bed.ns}.md.bars`;
    const producer = bus();
    const env = barEnvelope(1);
    await producer.publish('md.bars', env);
    await bed.raw.xgroup('CREATE', stream, 'g', '0');
    await bed.raw.xreadgroup('GROUP', 'g', 'dead1', 'COUNT', 10, 'STREAMS', stream, '>');
    await bed.raw.xclaim(stream, 'g', 'dead2', 0, (await bed.raw.xrange(stream, '-', '+'))[0][0]);
    const b = bus();
    const got: string[] = [];
    b.subscribe(
      {
        stream: 'md.bars',
        group: 'g',
        consumer: 'live',
        blockMs: 20,
        minIdleMs: 0,
        maxDeliveries: 2,
      },
      (e) => void got.push(e.id),
    );
    await waitFor(async () => (await b.readDeadLetters('md.bars')).length === 1, 'dead-lettered');
    const [dl] = await b.readDeadLetters('md.bars');
    expect(dl.attempts).toBe(3);
    expect(dl.reason).toMatch(/delivered 3 times without an ack \(max 2\)/);
    expect(got).toEqual([]);
    expect(await pendingCount(stream, 'g')).toBe(0);
  });

  it('keeps idempotency across restarts with the shared (Redis) store', async () => {
    const env = barEnvelope(1);
    const first = bus();
    const got: string[] = [];
    const opts = { stream: 'md.bars', group: 'g', blockMs: 20, idempotency: 'shared' as const };
    const sub = first.subscribe({ ...opts, consumer: 'c1' }, (e) => void got.push(e.id));
    await first.publish('md.bars', env);
    await waitFor(() => got.length === 1, 'first delivery');
    await sub.close();
    const registry = new Registry();
    const second = bus({ registry });
    await second.publish('md.bars', env);
    const marker = barEnvelope(2);
    await second.publish('md.bars', marker);
    second.subscribe({ ...opts, consumer: 'c2' }, (e) => void got.push(e.id));
    await waitFor(() => got.includes(marker.id), 'marker');
    expect(got).toEqual([env.id, marker.id]);
    // Outcomes reach the counter with the outbox's next drain, after the handler saw the marker.
    const duplicates = async () =>
      (await registry.getSingleMetric('pulse_consume_total')!.get()).values.find(
        (v) => v.labels.outcome === 'duplicate',
      )?.value;
    await waitFor(async () => (await duplicates()) !== undefined, 'duplicate counted');
    expect(await duplicates()).toBe(1);
  });

  it('metrics: private registry per bus by default, reuse by name in an injected one, lag and group gauges', async () => {
    const one = bus();
    const two = bus();
    expect(one.metrics.registry).not.toBe(two.metrics.registry);
    const shared = new Registry();
    const a = bus({ registry: shared });
    const b = bus({ registry: shared });
    await a.publish('md.bars', barEnvelope(1));
    await b.publish('md.bars', barEnvelope(2));
    const published = await shared.getSingleMetric('pulse_publish_total')!.get();
    expect(published.values).toEqual([
      { labels: { stream: `${bed.ns}.md.bars`, track: 'v1', outcome: 'success' }, value: 2 },
    ]);
    const got: string[] = [];
    a.subscribe(
      { stream: 'md.bars', group: 'g', consumer: 'c', blockMs: 20, reclaimIntervalMs: 20 },
      (e) => void got.push(e.id),
    );
    await waitFor(() => got.length === 2, 'consumed');
    const gauge = async (name: string) =>
      (await shared.getSingleMetric(name)!.get()).values[0]?.value;
    await waitFor(
      async () =>
        (await gauge('pulse_group_lag')) === 0 && (await gauge('pulse_group_pending')) === 0,
      'group gauges',
    );
    expect(await shared.metrics()).toMatch(
      new RegExp(`pulse_lag_seconds\\{stream="${bed.ns}.md.bars"\\} [\\d.e-]+`),
    );
  });
  describe('idle consumers', () => {
    it('live consumers of a quiet stream keep each other; a gone consumer holding nothing is removed', async () => {
      const stream = `${bed.ns}.md.bars`;
      await bed.raw.xgroup('CREATE', stream, 'store', '0', 'MKSTREAM');
      await bed.raw.xgroup('CREATECONSUMER', stream, 'store', 'gone');
      const opts = {
        stream: 'md.bars',
        group: 'store',
        blockMs: 20,
        minIdleMs: 60_000,
        reclaimIntervalMs: 20,
        consumerGraceMs: 400,
      };
      // No entry ever arrives: before Redis 7.2 neither consumer's idle time restarts.
      bus().subscribe({ ...opts, consumer: 'a' }, () => undefined);
      bus().subscribe({ ...opts, consumer: 'b' }, () => undefined);
      const names = async () =>
        ((await bed.raw.xinfo('CONSUMERS', stream, 'store')) as string[][]).map((c) => c[1]).sort();
      await waitFor(async () => !(await names()).includes('gone'), 'the gone consumer removed');
      await new Promise((r) => setTimeout(r, 2000)); // several grace periods of silence
      expect(await names()).toEqual(['a', 'b']);
    });

    it('keeps the beats of a stream in its Redis Cluster slot', () => {
      for (const stream of ['mdp.telemetry.feedback', '{mdp.md.bars.p3}', 'mdp.{t}.x'])
        expect(calculateSlot(consumerBeatsKey(stream))).toBe(calculateSlot(stream));
    });
  });
});

function toPairs(flat: unknown[]): [string, unknown][] {
  const pairs: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), flat[i + 1]]);
  return pairs;
}
