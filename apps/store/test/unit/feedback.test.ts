import type { FeedbackEvent } from '@mdp/contracts';
import { decodeEnvelope } from '@mdp/contracts';
import { createEventBus } from '@mdp/pulse';
import { FeedbackEmitter } from '../../src/feedback/feedback-emitter';
import { HttpFeedbackBroadcaster } from '../../src/feedback/http-broadcaster';
import {
  feedbackEnvelope,
  pulseFeedbackPublisher,
} from '../../src/feedback/pulse-feedback-publisher';

const event = (
  level: FeedbackEvent['level'],
  extra: Partial<FeedbackEvent> = {},
): FeedbackEvent => ({
  coordinator_id: 'store',
  queue_size: 8000,
  capacity: 10_000,
  level,
  source: 'store',
  ts: 1_700_000_000,
  ...extra,
});

describe('FeedbackEmitter', () => {
  it('fans out to every subscriber; a throwing or rejecting one does not affect the others', async () => {
    const warnings: string[] = [];
    const bus = new FeedbackEmitter({
      warn: (_o, m) => void warnings.push(m ?? ''),
      error: (_o, m) => void warnings.push(m ?? ''),
    });
    const got: string[] = [];
    bus.subscribe(() => {
      throw new Error('sync boom');
    });
    bus.subscribe(async () => {
      throw new Error('async boom');
    });
    const off = bus.subscribe((e) => void got.push(`a:${e.level}`));
    bus.subscribe((e) => void got.push(`b:${e.level}`));
    bus.publish(event('hard'));
    off();
    off(); // unsubscribing twice is harmless
    bus.publish(event('ok'));
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['a:hard', 'b:hard', 'b:ok']);
    // Each failing subscriber is one warn for its run of failures, not one per event.
    expect(warnings).toHaveLength(2);
    expect(bus.subscriberCount).toBe(3);
  });

  it('a subscriber failing on every event is one warn line, and one info line once it delivers again', async () => {
    const lines: Array<[string, string]> = [];
    const bus = new FeedbackEmitter({
      warn: (_o, m) => void lines.push(['warn', m ?? '']),
      error: (_o, m) => void lines.push(['error', m ?? '']),
      info: (_o, m) => void lines.push(['info', m ?? '']),
    });
    let down = true;
    bus.subscribe(async () => {
      if (down) throw new Error('Redis not connected');
    });
    for (let i = 0; i < 20; i++) bus.publish(event('hard'));
    await new Promise((r) => setImmediate(r));
    expect(lines.map(([level]) => level)).toEqual(['warn']);
    down = false;
    bus.publish(event('ok'));
    bus.publish(event('ok'));
    await new Promise((r) => setImmediate(r));
    expect(lines.map(([level]) => level)).toEqual(['warn', 'info']);
  });
});

describe('Pulse feedback publisher', () => {
  it('publishes a valid telemetry.FeedbackEvent envelope keyed by coordinator id on the configured track', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: 'fbtest', track: 'v2' });
    const received: unknown[] = [];
    const sub = bus.subscribe(
      { stream: 'telemetry.feedback', group: 'g', consumer: 'c' },
      (env) => void received.push(env),
    );
    await pulseFeedbackPublisher(
      bus,
      'v2',
    )(event('ok', { reason: 'queue_recovered', utilization: 0.5 }));
    const start = Date.now();
    while (received.length === 0 && Date.now() - start < 5000)
      await new Promise((r) => setTimeout(r, 5));
    await sub.close();
    await bus.close();
    const decoded = decodeEnvelope(received[0]);
    expect(decoded.ok).toBe(true);
    expect(received[0]).toMatchObject({
      key: 'store',
      meta: {
        schema_id: 'telemetry.FeedbackEvent',
        track: 'v2',
        headers: { reason: 'queue_recovered', utilization: '0.5000' },
      },
      payload: { level: 'ok', reason: 'queue_recovered', coordinator_id: 'store' },
    });
  });

  it('v1 payloads carry only the v1 fields', () => {
    const env = feedbackEnvelope(event('hard', { reason: 'x', utilization: 0.9 }), 'v1');
    expect(Object.keys(env.payload as object).sort()).toEqual([
      'capacity',
      'coordinator_id',
      'level',
      'queue_size',
      'source',
      'ts',
    ]);
    expect(env.meta.track).toBe('v1');
  });
});

describe('HttpFeedbackBroadcaster', () => {
  it('never blocks the caller, retries failed posts with backoff and gives up after max retries', async () => {
    const calls: Array<{ url: string; body: unknown }> = [];
    let failures = 2;
    const fakeFetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, body: JSON.parse(String(init.body)) });
      expect(init.signal).toBeInstanceOf(AbortSignal);
      if (failures-- > 0) throw new Error('ECONNREFUSED');
      return new Response(null, { status: 204 });
    }) as unknown as typeof fetch;
    const b = new HttpFeedbackBroadcaster({
      endpoint: 'http://hook/fb',
      maxRetries: 3,
      backoffMs: 1,
      fetch: fakeFetch,
    });
    const ret = b.send(event('hard'));
    expect(ret).toBeUndefined(); // fire and forget
    await b.flush();
    expect(calls).toHaveLength(3);
    expect(b.sent).toBe(1);

    const down = new HttpFeedbackBroadcaster({
      endpoint: 'http://hook/fb',
      maxRetries: 2,
      backoffMs: 1,
      fetch: (async () => new Response(null, { status: 500 })) as unknown as typeof fetch,
    });
    down.send(event('soft'));
    await down.flush();
    expect(down.failed).toBe(1);
  });

  it('keeps only the newest events when the webhook cannot keep up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const posted: string[] = [];
    const slow = (async (_u: string, init: RequestInit) => {
      await gate;
      posted.push(JSON.parse(String(init.body)).level);
      return new Response(null, { status: 200 });
    }) as unknown as typeof fetch;
    const b = new HttpFeedbackBroadcaster({ endpoint: 'http://hook', maxPending: 2, fetch: slow });
    b.send(event('soft')); // taken by the sender immediately
    b.send(event('hard'));
    b.send(event('ok'));
    b.send(event('soft'));
    release();
    await b.flush();
    expect(b.discarded).toBe(1);
    expect(posted).toEqual(['soft', 'ok', 'soft']);
  });
});

describe('HttpFeedbackBroadcaster shutdown', () => {
  it('stop cancels a post in progress and abandons queued events', async () => {
    const hanging = ((_u: string, init: RequestInit) =>
      new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      )) as unknown as typeof fetch;
    const b = new HttpFeedbackBroadcaster({
      endpoint: 'http://hook',
      timeoutMs: 60_000,
      maxRetries: 5,
      backoffMs: 60_000,
      fetch: hanging,
    });
    b.send(event('hard'));
    b.send(event('ok'));
    await b.stop();
    expect(b.sent).toBe(0);
    expect(b.failed).toBe(1);
    expect(b.discarded).toBe(1);
    b.send(event('soft')); // ignored after stop
    expect(b.discarded).toBe(1);
  });
});
