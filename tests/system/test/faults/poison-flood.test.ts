/**
 * A poison flood: 10 000 junk entries (bad JSON, wrong schema, bad signature under PUBLISHER_TOKEN,
 * entries over the size cap, rows PostgreSQL refuses) among 10 000 good ones, written straight to
 * `<ns>.md.bars` while the store reads. Every junk entry lands in `<ns>.md.bars.dlq` exactly once with its reason, every good
 * one in bars_ohlcv exactly once, and the store's memory stays bounded.
 */
import { randomUUID } from 'crypto';
import { createEnvelope, encodeEntry, signEnvelope } from '@mdp/pulse';
import { describeWithPostgres, RedisServer, waitFor } from '@mdp/testing';
import { barKey, lostKeys, report, RSS_BOUND_MB, SUBMITTED, useSystem } from '../support/system';

const TOKEN = 'system-test-publisher-token';
const GOOD = 10_000;
const JUNK = {
  badJson: 3_300,
  wrongSchema: 3_300,
  badSignature: 3_200,
  tooLarge: 100,
  rejectedByDatabase: 100,
};
const JUNK_TOTAL = Object.values(JUNK).reduce((a, b) => a + b, 0);
/** Over the default maximum entry size of 1 MB. */
const TOO_LARGE_BYTES = 1_200_000;
const T0 = 1_700_000_000;

function bar(i: number) {
  const symbol = `P${i % 10}`;
  const ts = T0 + Math.floor(i / 10) * 60;
  return {
    provider: 'poison-test',
    symbol,
    interval: '1m',
    ts,
    open: 10,
    high: 11,
    low: 9,
    close: 10.5,
    volume: 100,
  };
}

function goodEntry(i: number): string[] {
  const b = bar(i);
  return encodeEntry(
    signEnvelope(createEnvelope('md.Bar', b, { track: 'v1', key: b.symbol }), TOKEN),
  );
}

type JunkKind = keyof typeof JUNK;

function junkEntry(kind: JunkKind, i: number): string[] {
  const b = bar(i);
  switch (kind) {
    case 'badJson':
      return [
        'id',
        randomUUID(),
        'schema_id',
        'md.Bar',
        'track',
        'v1',
        'envelope',
        `{"id": "${i}", "payload": {`,
      ];
    case 'wrongSchema': {
      const { close: _close, ...noClose } = b;
      return encodeEntry(
        signEnvelope(
          createEnvelope('md.Bar', { ...noClose, volume: 'lots' }, { track: 'v1', key: b.symbol }),
          TOKEN,
        ),
      );
    }
    case 'badSignature':
      // 4 KB each, so a dead letter that stores its entry twice shows.
      return encodeEntry(
        signEnvelope(
          createEnvelope('md.Bar', b, {
            track: 'v1',
            key: b.symbol,
            headers: { padding: 'y'.repeat(4096) },
          }),
          'not-the-token',
        ),
      );
    case 'rejectedByDatabase':
      // A valid contract, but past timestamptz's range: PostgreSQL refuses the row.
      return encodeEntry(
        signEnvelope(
          createEnvelope('md.Bar', { ...b, ts: 1e13 + i }, { track: 'v1', key: b.symbol }),
          TOKEN,
        ),
      );
    case 'tooLarge':
      return encodeEntry(
        signEnvelope(
          createEnvelope('md.Bar', b, {
            track: 'v1',
            key: b.symbol,
            headers: { padding: 'x'.repeat(TOO_LARGE_BYTES) },
          }),
          TOKEN,
        ),
      );
  }
}

const byteSize = (fields: string[]) => fields.reduce((n, f) => n + Buffer.byteLength(f), 0);

describeWithPostgres('a poison flood among good entries', () => {
  const newSystem = useSystem();

  it('dead-letters every junk entry once and persists every good one once', async () => {
    // A private Redis: 120 MB of oversized entries are no business of the shared server.
    const server = await RedisServer.start();
    const s = await newSystem(server.url);
    const redis = s.redis;
    const store = await s.start('store', { ...s.sharedEnv('v1'), PUBLISHER_TOKEN: TOKEN });
    await store.waitReady();

    // Good and junk interleaved, junk kinds spread over the whole run, written in pipelined chunks.
    const kinds: JunkKind[] = (Object.keys(JUNK) as JunkKind[]).flatMap((k) =>
      Array<JunkKind>(JUNK[k]).fill(k),
    );
    const junkIds = new Map<string, JunkKind>();
    const junkBytes = new Map<string, number>();
    const total = GOOD + JUNK_TOTAL;
    let g = 0;
    let j = 0;
    for (let start = 0; start < total; start += 500) {
      const chunk = redis.pipeline();
      const chunkKinds: Array<JunkKind | undefined> = [];
      const chunkBytes: number[] = [];
      for (let n = start; n < Math.min(total, start + 500); n++) {
        // Spread each junk kind evenly: junk entry j is kinds[(j * 7919) % JUNK_TOTAL].
        const isJunk = j < JUNK_TOTAL && (g >= GOOD || n % 2 === 1);
        if (isJunk) {
          const kind = kinds[(j * 7919) % JUNK_TOTAL];
          const fields = junkEntry(kind, 1_000_000 + j++);
          chunk.xadd(s.barsStream, '*', ...fields);
          chunkKinds.push(kind);
          chunkBytes.push(byteSize(fields));
        } else {
          chunk.xadd(s.barsStream, '*', ...goodEntry(g++));
          chunkKinds.push(undefined);
          chunkBytes.push(0);
        }
      }
      const results = (await chunk.exec())!;
      results.forEach(([err, id], k) => {
        if (err) throw err;
        if (!chunkKinds[k]) return;
        junkIds.set(id as string, chunkKinds[k]!);
        junkBytes.set(id as string, chunkBytes[k]);
      });
    }
    expect([g, j, junkIds.size]).toEqual([GOOD, JUNK_TOTAL, JUNK_TOTAL]);

    await waitFor(() => s.barsSettled(), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the store group to read and settle every entry',
      detail: () => store.output(20),
    });
    await s.metrics.scrapeAll();

    // Each junk entry once in the dead letters, with the reason of its kind; no good entry there.
    const reasons = new Map<JunkKind, Set<string>>();
    const reasonOf = (kind: JunkKind, reason: string) =>
      // The database's own words for its refusals; otherwise the kind of problem: what follows the
      // consumer's `poison: ` label, up to the next colon.
      kind === 'rejectedByDatabase'
        ? /out of range/.test(reason)
          ? 'out of range'
          : reason
        : reason.replace(/^poison: /, '').split(':')[0];
    const dead = new Map<string, number>();
    // Bytes a dead letter holds beyond its source entry: one copy of the entry plus who/why.
    let maxOverhead = 0;
    let from = '-';
    for (;;) {
      const page = await redis.xrange(`${s.barsStream}.dlq`, from, '+', 'COUNT', 1000);
      for (const [id, fields] of page) {
        const get = (f: string) => fields[fields.indexOf(f) + 1];
        const source = get('source_entry_id');
        dead.set(source, (dead.get(source) ?? 0) + 1);
        maxOverhead = Math.max(maxOverhead, byteSize(fields) - (junkBytes.get(source) ?? 0));
        const kind = junkIds.get(source);
        if (kind)
          reasons.set(kind, (reasons.get(kind) ?? new Set()).add(reasonOf(kind, get('reason'))));
        from = `(${id}`;
      }
      if (page.length < 1000) break;
    }
    const notJunk = [...dead.keys()].filter((id) => !junkIds.has(id));
    const twice = [...dead.values()].filter((n) => n > 1).length;
    const missing = [...junkIds.keys()].filter((id) => !dead.has(id));

    const expectedKeys = new Set(
      Array.from({ length: GOOD }, (_, i) => barKey(bar(i).symbol, '1m', bar(i).ts)),
    );
    const persisted = await s.persisted();
    const lost = lostKeys(expectedKeys, persisted.keys).length + missing.length;
    // Every entry carries a key of its own, and only the persisted rows and the ones the database
    // refuses reach the writer: any more were handed over twice.
    const handledTwice = Math.max(
      0,
      s.metrics.total(SUBMITTED) - persisted.rows - JUNK.rejectedByDatabase,
    );
    report(
      'poison flood',
      {
        published: total,
        persisted: persisted.keys.size,
        handledTwice,
        deadLettered: dead.size,
        lost,
        maxRssMb: s.metrics.maxRssMb,
      },
      `junk=${JUNK_TOTAL} good=${GOOD} dlq_overhead_max=${maxOverhead}B`,
    );

    expect({ missing: missing.length, notJunk, twice }).toEqual({
      missing: 0,
      notJunk: [],
      twice: 0,
    });
    expect(Object.fromEntries([...reasons].map(([k, v]) => [k, [...v].sort()]))).toEqual({
      badJson: ['envelope is not valid JSON'],
      wrongSchema: ['schema'],
      badSignature: [expect.stringMatching(/signature/)],
      tooLarge: [expect.stringMatching(/too large/)],
      rejectedByDatabase: ['out of range'],
    });
    // A dead letter keeps at most one copy of its entry (an oversized one not even that).
    expect(maxOverhead).toBeLessThan(2048);
    expect(lost).toBe(0);
    expect(persisted.rows).toBe(GOOD);
    expect(handledTwice).toBe(0);
    expect(s.metrics.maxRssMb).toBeLessThan(RSS_BOUND_MB);
  });
});
