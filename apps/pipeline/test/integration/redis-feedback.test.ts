/**
 * Over real Redis: feedback events written with a plain XADD in the documented wire format (fields
 * id, schema_id, track, envelope; see packages/pulse/README.md), not through the project's publisher,
 * reach the running pipeline and change its provider's rate; the metrics show the flow.
 */
import { randomUUID } from 'crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { SIGNATURE_HEADER, signatureOf } from '@mdp/pulse';
import { describeWithRedis } from '@mdp/testing';
import { waitFor } from '../support/fake-clock';
import { usePipelineOnRedis } from '../support/pipeline-on-redis';

/** A FeedbackEvent envelope spelled out in its wire form (not built by the project's own helpers). */
function wireFeedback(
  track: 'v1' | 'v2',
  payload: Record<string, unknown>,
  key = 'store-coordinator',
) {
  return {
    id: randomUUID(),
    key,
    ts: Date.now() / 1000,
    meta: { schema_id: 'telemetry.FeedbackEvent', track, headers: {} as Record<string, string> },
    payload: { coordinator_id: key, source: 'store', ts: Date.now() / 1000, ...payload },
  };
}

function xaddEnvelope(
  redis: Redis,
  stream: string,
  envelope: { id: string; meta: { schema_id: string; track: string } },
): Promise<string | null> {
  return redis.xadd(
    stream,
    '*',
    'id',
    envelope.id,
    'schema_id',
    envelope.meta.schema_id,
    'track',
    envelope.meta.track,
    'envelope',
    JSON.stringify(envelope),
  );
}

describeWithRedis('pipeline over Redis', () => {
  const pipe = usePipelineOnRedis('pipe', {
    SCHEMA_TRACK: 'v2',
    PIPELINE_PROVIDERS: 'synthetic',
    PIPELINE_FB_PROVIDER: 'synthetic',
    PIPELINE_SYNTHETIC_RATE: '100',
    PIPELINE_BATCH_SIZE: '10',
    PIPELINE_BATCH_FLUSH_MS: '50',
    PIPELINE_IDEMPOTENCY: 'shared',
    // Every event applied as it comes: the assertions count one adjustment per event.
    PIPELINE_FB_MIN_DWELL_MS: '0',
  });

  it('publishes synthetic bars to <ns>.md.bars', async () => {
    await waitFor(
      async () => (await pipe.redis.xlen(`${pipe.ns}.md.bars`)) > 0,
      15_000,
      'bars in Redis',
    );
    const [[, fields]] = await pipe.redis.xrange(`${pipe.ns}.md.bars`, '-', '+', 'COUNT', 1);
    const envelope = JSON.parse(fields[fields.indexOf('envelope') + 1]);
    expect(envelope).toMatchObject({
      meta: { schema_id: 'md.Bar', track: 'v2' },
      payload: { provider: 'synthetic' },
    });
    expect(envelope.key).toBe(envelope.payload.symbol);
  });

  it('a v1 FeedbackEvent XADDed by hand changes the provider rate', async () => {
    expect(await pipe.synthetic()).toMatchObject({ scale: 1 });
    const envelope = wireFeedback('v1', { queue_size: 700, capacity: 1000, level: 'soft' });
    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, envelope);
    await waitFor(async () => (await pipe.synthetic()).scale === 0.5, 15_000, 'scale 0.5');
    expect(await pipe.synthetic()).toMatchObject({ pressure: 'soft', effectiveRate: 50 });
  });

  it('a v2 FeedbackEvent XADDed by hand changes it again; a redelivered copy changes nothing', async () => {
    const envelope = wireFeedback('v2', {
      queue_size: 990,
      capacity: 1000,
      level: 'hard',
      utilization: 0.99,
      reason: 'queue nearly full',
    });
    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, envelope);
    await waitFor(async () => (await pipe.synthetic()).scale === 0, 15_000, 'scale 0');
    expect(await pipe.synthetic()).toMatchObject({ pressure: 'hard', effectiveRate: 0 });

    // The same envelope again (e.g. a producer retry): dropped as a duplicate.
    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, envelope);
    await waitFor(
      async () =>
        /pulse_consume_total\{[^}]*outcome="duplicate"[^}]*\} 1/.test(
          (await request(pipe.svc.app.getHttpServer()).get('/metrics')).text,
        ),
      15_000,
      'duplicate counted',
    );

    // Each applied adjustment was announced on <ns>.telemetry.rate_adjustment.
    const announced = (
      await pipe.redis.xrange(`${pipe.ns}.telemetry.rate_adjustment`, '-', '+')
    ).map(([, f]) => JSON.parse(f[f.indexOf('envelope') + 1]));
    expect(
      announced.map((e) => [
        e.meta.schema_id,
        e.payload.provider,
        e.payload.scale,
        e.payload.reason,
      ]),
    ).toEqual([
      ['telemetry.RateAdjustment', 'synthetic', 0.5, 'soft'],
      ['telemetry.RateAdjustment', 'synthetic', 0, 'hard'],
    ]);
    expect(announced[1].payload.correlation_id).toBe(envelope.id);
  });

  it('junk on the feedback stream is dead-lettered and does not stop the consumer', async () => {
    await pipe.redis.xadd(
      `${pipe.ns}.telemetry.feedback`,
      '*',
      'id',
      'junk-1',
      'schema_id',
      'telemetry.FeedbackEvent',
      'track',
      'v1',
      'envelope',
      '{"not": "an envelope"',
    );
    const ok = wireFeedback('v1', { queue_size: 1, capacity: 1000, level: 'ok' });
    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, ok);
    await waitFor(async () => (await pipe.synthetic()).scale === 1, 15_000, 'scale restored to 1');
    await waitFor(
      async () => (await pipe.redis.xlen(`${pipe.ns}.telemetry.feedback.dlq`)) === 1,
      15_000,
      'dead letter',
    );
  });

  it('exposes the flow on /metrics', async () => {
    const stream = `${pipe.ns}.telemetry.feedback`;
    const v1Success = new RegExp(
      `pulse_consume_total\\{stream="${stream}",track="v1",outcome="success"\\} 2`,
    );
    const scrape = async () =>
      (await request(pipe.svc.app.getHttpServer()).get('/metrics').expect(200)).text;
    // Pulse tallies consume outcomes per read loop, so the last success may show one loop later.
    await waitFor(
      async () => v1Success.test(await scrape()),
      15_000,
      'both v1 events counted as success',
    );
    const text = await scrape();
    expect(text).toMatch(
      new RegExp(`pulse_consume_total\\{stream="${stream}",track="v2",outcome="success"\\} 1`),
    );
    expect(text).toMatch(new RegExp(`pulse_lag_seconds\\{stream="${stream}"\\} [\\d.e-]+`));
    expect(text).toMatch(
      /pipeline_feedback_events_received_total\{source="store",level="soft"\} 1/,
    );
    expect(text).toMatch(
      /pipeline_feedback_events_received_total\{source="store",level="hard"\} 1/,
    );
    expect(text).toMatch(/pipeline_rate_adjustments_total\{provider="synthetic",reason="soft"\} 1/);
    expect(text).toMatch(/pipeline_rate_adjustments_total\{provider="synthetic",reason="hard"\} 1/);
    expect(text).toMatch(/pipeline_rate_adjustments_total\{provider="synthetic",reason="ok"\} 1/);
  });

  it('acknowledges a control action from the orchestrator with an audit entry', async () => {
    const action = {
      id: randomUUID(),
      key: 'pipeline',
      ts: Date.now() / 1000,
      meta: { schema_id: 'control.ControlAction', track: 'v1', headers: {} },
      payload: { action: 'pause', target: 'pipeline', ts: Date.now() / 1000 },
    };
    await xaddEnvelope(pipe.redis, `${pipe.ns}.control.actions`, action);
    await waitFor(
      async () => (await pipe.redis.xlen(`${pipe.ns}.telemetry.audit`)) === 1,
      15_000,
      'audit entry',
    );
    const [[, f]] = await pipe.redis.xrange(`${pipe.ns}.telemetry.audit`, '-', '+');
    const audit = JSON.parse(f[f.indexOf('envelope') + 1]);
    expect(audit).toMatchObject({
      meta: { schema_id: 'telemetry.AuditEnvelope' },
      payload: {
        action: 'pause',
        operation: 'pause',
        result: { status: 'ok', outcome: 'ok' },
        role: 'pipeline',
        correlation_id: action.id,
      },
    });
    expect(await pipe.synthetic()).toMatchObject({ effectiveRate: 0 });
    expect((await pipe.providers())[0]).toMatchObject({ paused: true });
  });
});

describeWithRedis('pipeline over Redis with PUBLISHER_TOKEN', () => {
  const token = 's3cret';
  const pipe = usePipelineOnRedis('pipesig', {
    PUBLISHER_TOKEN: token,
    PIPELINE_CONTROL_ENABLED: 'false',
    PIPELINE_BATCH_FLUSH_MS: '50',
  });

  const feedbackEnvelope = (level: string) =>
    wireFeedback('v1', { queue_size: 1, capacity: 10, level }, 'store');

  it('signs what it publishes, dead-letters unsigned feedback and applies signed feedback', async () => {
    await waitFor(async () => (await pipe.redis.xlen(`${pipe.ns}.md.bars`)) > 0, 15_000, 'bars');
    const [[, fields]] = await pipe.redis.xrange(`${pipe.ns}.md.bars`, '-', '+', 'COUNT', 1);
    const bar = JSON.parse(fields[fields.indexOf('envelope') + 1]);
    expect(bar.meta.headers[SIGNATURE_HEADER]).toBe(signatureOf(bar, token));

    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, feedbackEnvelope('hard'));
    const signed = feedbackEnvelope('soft');
    signed.meta.headers[SIGNATURE_HEADER] = signatureOf(signed, token);
    await xaddEnvelope(pipe.redis, `${pipe.ns}.telemetry.feedback`, signed);

    const scale = async () =>
      (await request(pipe.svc.app.getHttpServer()).get('/providers')).body[0].scale;
    await waitFor(async () => (await scale()) === 0.5, 15_000, 'signed soft feedback applied');
    await waitFor(
      async () => (await pipe.redis.xlen(`${pipe.ns}.telemetry.feedback.dlq`)) === 1,
      15_000,
      'unsigned feedback dead-lettered',
    );
    const metrics = (await request(pipe.svc.app.getHttpServer()).get('/metrics')).text;
    expect(metrics).toMatch(
      /pipeline_rate_adjustments_total\{provider="synthetic",reason="soft"\} 1/,
    );
    expect(metrics).not.toMatch(/reason="hard"/);
  });
});
