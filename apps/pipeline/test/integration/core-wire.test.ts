/**
 * Over real Redis with PULSE_WIRE=core: feedback entries XADDed by hand exactly as the Python
 * market-data-core's bus writes them (key `<ns>:<ns>.telemetry.feedback` with a colon, one field
 * `data`, no id in the JSON, the class-path schema id, and the store's nested envelope) change the
 * running pipeline's provider rate, and its rate adjustments go out in the layout the core reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithRedis } from '@mdp/testing';
import { waitFor } from '../support/fake-clock';
import { usePipelineOnRedis } from '../support/pipeline-on-redis';

/** Golden `data` bodies, hand-written from the core's models (packages/contracts/test/fixtures). */
const golden = (file: string) =>
  readFileSync(
    join(__dirname, '../../../../packages/contracts/test/fixtures/core-1.4.61/bodies', file),
    'utf8',
  );

describeWithRedis('pipeline reading the core layout (PULSE_WIRE=core)', () => {
  const pipe = usePipelineOnRedis('pipecore', {
    SCHEMA_TRACK: 'v1',
    PULSE_WIRE: 'core',
    // Every event applied as it comes: the assertions count one adjustment per event.
    PIPELINE_FB_MIN_DWELL_MS: '0',
    PIPELINE_PROVIDERS: 'synthetic',
    PIPELINE_FB_PROVIDER: 'synthetic',
    PIPELINE_SYNTHETIC_RATE: '100',
  });
  const feedbackKey = () => `${pipe.ns}:${pipe.ns}.telemetry.feedback`;

  it('a FeedbackEvent published by the core (class-path schema id, key null) changes the rate', async () => {
    expect(await pipe.synthetic()).toMatchObject({ scale: 1 });
    // The group is created from `0` on start, so an entry written before the first read is seen too.
    await pipe.redis.xadd(feedbackKey(), '*', 'data', golden('core-publish.FeedbackEvent.v1.json'));
    await waitFor(async () => (await pipe.synthetic()).scale === 0.5, 15_000, 'scale 0.5 (soft)');
    expect(await pipe.synthetic()).toMatchObject({ pressure: 'soft' });
  });

  it("the store's nested envelope (events.envelope.EventEnvelope) changes it again", async () => {
    await pipe.redis.xadd(
      feedbackKey(),
      '*',
      'data',
      golden('store-publish.FeedbackEvent.v2.json'),
    );
    await waitFor(async () => (await pipe.synthetic()).scale === 0, 15_000, 'scale 0 (hard)');
  });

  it('an entry spelled the way Python json.dumps writes it brings the rate back', async () => {
    const ts = Date.now() / 1000;
    const data =
      `{"ts": ${ts}, "key": "bars-coord", "meta": {"schema_id": "telemetry.backpressure.FeedbackEvent", ` +
      `"track": "v1", "headers": {}, "hash": null}, "payload": {"coordinator_id": "bars-coord", ` +
      `"queue_size": 10, "capacity": 100, "level": "ok", "source": "store", "ts": ${ts}}}`;
    const entryId = await pipe.redis.xadd(feedbackKey(), '*', 'data', data);
    await waitFor(async () => (await pipe.synthetic()).scale === 1, 15_000, 'scale 1 (ok)');

    // Every rate adjustment went out in the core layout: colon key, one `data` field, no id, and the
    // schema id the core's reader resolves.
    const adjustments = await pipe.redis.xrange(
      `${pipe.ns}:${pipe.ns}.telemetry.rate_adjustment`,
      '-',
      '+',
    );
    expect(adjustments).toHaveLength(3);
    const bodies = adjustments.map(([, f]) => {
      expect(f).toHaveLength(2);
      expect(f[0]).toBe('data');
      return JSON.parse(f[1]);
    });
    for (const b of bodies) {
      expect(Object.keys(b).sort()).toEqual(['key', 'meta', 'payload', 'ts']);
      expect(b.meta).toEqual({
        schema_id: 'telemetry.RateAdjustment',
        track: 'v1',
        headers: {},
        hash: null,
      });
      expect(Object.keys(b.payload).sort()).toEqual(['provider', 'reason', 'scale', 'ts']);
    }
    expect(bodies.map((b) => [b.payload.scale, b.payload.reason])).toEqual([
      [0.5, 'soft'],
      [0, 'hard'],
      [1, 'ok'],
    ]);
    expect(entryId).toMatch(/^\d+-\d+$/);
    // Nothing went to the mdp keys or to a dead-letter stream.
    expect(await pipe.redis.exists(`${pipe.ns}.telemetry.feedback`, `${feedbackKey()}.dlq`)).toBe(
      0,
    );
  });
});
