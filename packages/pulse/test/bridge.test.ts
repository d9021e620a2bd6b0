/**
 * The bridge over real Redis: core-layout entries (as the Python core writes them) reach the mdp key
 * and mdp entries reach the core key, each exactly once, with no copy travelling back; a second bridge
 * with a fresh group (a restart that lost its position) copies nothing twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeedbackEvent } from '@mdp/contracts';
import { describeWithRedis, redisUrl } from '@mdp/testing';
import { createEnvelope, decodeCoreEntry, decodeEntry, type PulseBus } from '../src';
import { Bridge, BRIDGED_HEADER } from '../src/bridge/bridge';
import { bridgeFromEnv } from '../src/bridge/bridge-cli';
import { waitFor } from './helpers';
import { redisBed } from './redis-bed';

const BODIES = join(__dirname, '../../contracts/test/fixtures/core-1.4.61/bodies');
const golden = (file: string) => readFileSync(join(BODIES, file), 'utf8');

const feedback = (queue_size: number): FeedbackEvent => ({
  coordinator_id: 'store',
  queue_size,
  capacity: 100,
  level: queue_size >= 80 ? 'hard' : 'ok',
  source: 'store',
  ts: 1_700_000_000,
});

describeWithRedis('pulse-bridge', () => {
  const bed = redisBed('bridge');
  let bus: PulseBus;
  let coreKey: string;
  let mdpKey: string;

  const entries = async (key: string) =>
    (await bed.raw.xrange(key, '-', '+')) as [string, string[]][];
  const bridge = (group = 'bridge') => {
    const b = bed.closeAfter(
      new Bridge({
        redisUrl: redisUrl(),
        namespace: bed.ns,
        streams: ['telemetry.feedback'],
        group,
        blockMs: 20,
      }),
    );
    b.start();
    return b;
  };

  beforeEach(() => {
    coreKey = `${bed.ns}:${bed.ns}.telemetry.feedback`;
    mdpKey = `${bed.ns}.telemetry.feedback`;
    bus = bed.bus();
  });

  it('copies both ways, once each, without copying a copy back', async () => {
    const coreIds = [
      await bed.raw.xadd(coreKey, '*', 'data', golden('core-publish.FeedbackEvent.v1.json')),
      await bed.raw.xadd(coreKey, '*', 'data', golden('store-publish.FeedbackEvent.v1.json')),
    ];
    const mdpSent = [
      createEnvelope('telemetry.FeedbackEvent', feedback(10)),
      createEnvelope('telemetry.FeedbackEvent', feedback(90), { track: 'v2' }),
    ];
    await bus.publishBatch('telemetry.feedback', mdpSent);

    const b = bridge();
    await waitFor(
      async () => (await bed.raw.xlen(mdpKey)) === 4 && (await bed.raw.xlen(coreKey)) === 4,
      'two copies each way',
    );
    await waitFor(
      () => b.counts['core-to-mdp'].loop === 2 && b.counts['mdp-to-core'].loop === 2,
      'the copies seen and not sent back',
    );
    expect(b.counts).toEqual({
      'core-to-mdp': { copied: 2, duplicate: 0, loop: 2 },
      'mdp-to-core': { copied: 2, duplicate: 0, loop: 2 },
    });

    // On the mdp key: the core entries, as mdp envelopes whose id is the core entry id.
    const mdpCopies = (await entries(mdpKey))
      .slice(2)
      .map(([, f]) => decodeEntry<FeedbackEvent>(f));
    expect(
      mdpCopies.map((d) =>
        d.ok
          ? [
              d.envelope.id,
              d.envelope.meta.schema_id,
              d.envelope.payload.level,
              d.envelope.meta.headers[BRIDGED_HEADER],
            ]
          : d.reason,
      ),
    ).toEqual([
      [coreIds[0], 'telemetry.FeedbackEvent', 'soft', `${coreKey}/${coreIds[0]}`],
      [coreIds[1], 'telemetry.FeedbackEvent', 'hard', `${coreKey}/${coreIds[1]}`],
    ]);
    // On the core key: the mdp envelopes in the core layout (one `data` field, no id).
    const coreCopies = (await entries(coreKey)).slice(2);
    for (const [, f] of coreCopies) {
      expect(f[0]).toBe('data');
      expect(JSON.parse(f[1])).not.toHaveProperty('id');
    }
    expect(
      coreCopies
        .map(([id, f]) => decodeCoreEntry<FeedbackEvent>(f, id))
        .map((d) => (d.ok ? [d.envelope.meta.track, d.envelope.payload.queue_size] : d.reason)),
    ).toEqual([
      ['v1', 10],
      ['v2', 90],
    ]);

    // A second bridge with a fresh group reads everything again and adds nothing.
    const again = bridge('bridge-restarted');
    await waitFor(
      () =>
        again.counts['core-to-mdp'].duplicate + again.counts['core-to-mdp'].loop === 4 &&
        again.counts['mdp-to-core'].duplicate + again.counts['mdp-to-core'].loop === 4,
      'the restarted bridge has seen every entry',
    );
    expect(again.counts['core-to-mdp']).toEqual({ copied: 0, duplicate: 2, loop: 2 });
    expect(again.counts['mdp-to-core']).toEqual({ copied: 0, duplicate: 2, loop: 2 });
    expect([await bed.raw.xlen(mdpKey), await bed.raw.xlen(coreKey)]).toEqual([4, 4]);

    // A new entry after that is copied once, by whichever bridge reads it.
    await bed.raw.xadd(coreKey, '*', 'data', golden('core-publish.FeedbackEvent.v2.json'));
    await waitFor(async () => (await bed.raw.xlen(mdpKey)) === 5, 'the new core entry copied');
    await new Promise((r) => setTimeout(r, 100));
    expect(await bed.raw.xlen(mdpKey)).toBe(5);
  });

  it('is configured from the environment, and says what is wrong', () => {
    expect(() => bridgeFromEnv({ BRIDGE_DIRECTIONS: 'sideways' })).toThrow(
      /REDIS_URL: is required[\s\S]*BRIDGE_DIRECTIONS\.0: must be core-to-mdp and\/or mdp-to-core/,
    );
    const b = bridgeFromEnv({
      REDIS_URL: redisUrl(),
      MD_NAMESPACE: bed.ns,
      BRIDGE_STREAMS: 'telemetry.feedback',
    });
    bed.closeAfter(b);
  });
});
