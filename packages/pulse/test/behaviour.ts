/**
 * The behavioural suite every backend must pass (run by inmem.behaviour.test.ts and
 * redis.behaviour.test.ts).
 */
import type { EventEnvelope } from '@mdp/contracts';
import { Registry } from 'prom-client';
import {
  assignPartitions,
  createEnvelope,
  retry,
  type Delivery,
  type EventBusOptions,
  type PulseBus,
} from '../src';
import { barEnvelope, waitFor, type Bar } from './helpers';

export interface BackendHarness {
  /** A bus on the test's namespace (several calls act like several processes on one server). */
  bus(opts?: Partial<EventBusOptions>): PulseBus;
  /** Appends a raw entry (foreign producer). */
  addRaw(physical: string, fields: string[]): Promise<string>;
  /** Entries in a physical stream (XLEN). */
  length(physical: string): Promise<number>;
  namespace: string;
}

export function behaviourSuite(
  name: string,
  setup: () => Promise<BackendHarness>,
  teardown: () => Promise<void>,
): void {
  describe(`pulse behaviour (${name})`, () => {
    let h: BackendHarness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await teardown();
    });

    const fast = { blockMs: 20, minIdleMs: 60_000 };

    it('namespaces stream names', () => {
      const bus = h.bus();
      expect(bus.streamName('telemetry.feedback')).toBe(`${h.namespace}.telemetry.feedback`);
    });

    it('delivers in publish order to one consumer, validated and typed', async () => {
      const bus = h.bus();
      const sent = Array.from({ length: 120 }, (_, i) => barEnvelope(i));
      await bus.publishBatch('md.bars', sent.slice(0, 60));
      for (const e of sent.slice(60)) await bus.publish('md.bars', e);
      const got: EventEnvelope<Bar>[] = [];
      bus.subscribe<Bar>(
        { stream: 'md.bars', group: 'g', consumer: 'c1', batchSize: 7, ...fast },
        (env) => {
          got.push(env);
        },
      );
      await waitFor(() => got.length === 120, '120 deliveries');
      expect(got.map((e) => e.id)).toEqual(sent.map((e) => e.id));
      expect(got[5].payload.symbol).toBe('AAPL');
      await waitFor(async () => (await bus.groupStats('md.bars', 'g')).pending === 0, 'all acked');
    });

    it('fans out: two groups each get every message', async () => {
      const bus = h.bus();
      const a: string[] = [];
      const b: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'ga', consumer: 'c', ...fast },
        (e) => void a.push(e.id),
      );
      bus.subscribe(
        { stream: 'md.bars', group: 'gb', consumer: 'c', ...fast },
        (e) => void b.push(e.id),
      );
      const ids = await bus.publishBatch(
        'md.bars',
        Array.from({ length: 30 }, (_, i) => barEnvelope(i)),
      );
      expect(ids).toHaveLength(30);
      await waitFor(() => a.length === 30 && b.length === 30, 'both groups complete');
      expect(new Set(a)).toEqual(new Set(b));
    });

    it('shares work inside a group: each message goes to exactly one consumer', async () => {
      const bus = h.bus();
      const other = h.bus();
      const byConsumer: Record<string, string[]> = { c1: [], c2: [] };
      const slowly = (name: string) => async (e: EventEnvelope) => {
        byConsumer[name].push(e.id);
        await new Promise((r) => setTimeout(r, 2));
      };
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c1', batchSize: 5, ...fast },
        slowly('c1'),
      );
      other.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c2', batchSize: 5, ...fast },
        slowly('c2'),
      );
      const sent = Array.from({ length: 200 }, (_, i) => barEnvelope(i));
      await bus.publishBatch('md.bars', sent);
      await waitFor(() => byConsumer.c1.length + byConsumer.c2.length === 200, '200 handled');
      expect(byConsumer.c1.length).toBeGreaterThan(0);
      expect(byConsumer.c2.length).toBeGreaterThan(0);
      expect(new Set([...byConsumer.c1, ...byConsumer.c2]).size).toBe(200);
    });

    it('acks (also after the handler returned) so nothing stays pending', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      bus.subscribeBatch({ stream: 'md.bars', group: 'g', consumer: 'c', ...fast }, (batch) => {
        held.push(...batch);
      });
      await bus.publishBatch('md.bars', [barEnvelope(1), barEnvelope(2), barEnvelope(3)]);
      await waitFor(() => held.length === 3, '3 deliveries');
      expect((await bus.groupStats('md.bars', 'g')).pending).toBe(3);
      held.forEach((d) => d.ack());
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'late acks flushed',
      );
      expect(held.map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
      expect(held[0].stream).toBe('md.bars');
    });

    it('does not reclaim to itself what its handler still holds, however long it is held', async () => {
      const bus = h.bus();
      const seen: string[] = [];
      const held: Delivery[] = [];
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c',
          blockMs: 5,
          minIdleMs: 5,
          reclaimIntervalMs: 5,
        },
        (batch) => {
          for (const d of batch) seen.push(d.envelope.id);
          // The first two are settled at once, the third held: a batch only partly settled stays held.
          batch.forEach((d, i) => i < 2 && d.ack());
          held.push(...batch.slice(2));
        },
      );
      const sent = [barEnvelope(1), barEnvelope(2), barEnvelope(3)];
      await bus.publishBatch('md.bars', sent);
      await waitFor(() => seen.length === 3, '3 deliveries');
      // Many reclaim rounds pass while the entry is idle far beyond minIdleMs.
      await new Promise((r) => setTimeout(r, 150));
      expect(seen).toEqual(sent.map((e) => e.id));
      held.forEach((d) => d.ack());
      await waitFor(async () => (await bus.groupStats('md.bars', 'g')).pending === 0, 'all acked');
      expect(seen).toHaveLength(3);
    });

    it('holding entries through many reclaim rounds does not raise their delivery count', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      const sub = bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c1',
          blockMs: 5,
          minIdleMs: 5,
          reclaimIntervalMs: 5,
        },
        (batch) => void held.push(...batch),
      );
      await bus.publishBatch('md.bars', [barEnvelope(1), barEnvelope(2)]);
      await waitFor(() => held.length === 2, 'delivered');
      await new Promise((r) => setTimeout(r, 200)); // dozens of reclaim rounds, entries idle all along
      await sub.close(); // never settled: stays pending, as after a crash
      const again: Delivery[] = [];
      bus.subscribeBatch(
        { stream: 'md.bars', group: 'g', consumer: 'c2', blockMs: 5, minIdleMs: 10 },
        (batch) => {
          for (const d of batch) {
            again.push(d);
            d.ack();
          }
        },
      );
      await waitFor(() => again.length === 2, 'reclaimed by c2');
      // One delivery to c1's handler, one to c2's: the count means deliveries to handlers.
      expect(again.map((d) => d.deliveryCount)).toEqual([2, 2]);
    });

    it('acks what it settled while its handler is still busy with a later batch, so nobody takes it again', async () => {
      const bus = h.bus();
      const handled = new Map<string, number>();
      const count = (batch: Delivery[]) => {
        for (const d of batch) handled.set(d.envelope.id, (handled.get(d.envelope.id) ?? 0) + 1);
      };
      const first: Delivery[] = [];
      let release!: () => void;
      const busy = new Promise<void>((r) => (release = r));
      let batches = 0;
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'busy',
          batchSize: 10,
          readAhead: 1,
          blockMs: 5,
          minIdleMs: 250,
          reclaimIntervalMs: 10,
        },
        async (batch) => {
          count(batch);
          if (batches++ === 0) first.push(...batch);
          else {
            await busy; // e.g. the store's queue is full: the handler waits for room
            batch.forEach((d) => d.ack());
          }
        },
      );
      await bus.publishBatch(
        'md.bars',
        Array.from({ length: 20 }, (_, i) => barEnvelope(i)),
      );
      await waitFor(() => handled.size === 20, 'both batches handed out');
      first.forEach((d) => d.ack()); // settled while the handler still waits on the second batch
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'other',
          blockMs: 5,
          minIdleMs: 250,
          reclaimIntervalMs: 10,
        },
        (batch) => {
          count(batch);
          batch.forEach((d) => d.ack());
        },
      );
      // Held for several minIdleMs: without the heartbeat (every reclaimIntervalMs) 'other' would
      // claim it; minIdleMs leaves room for the timer stalls of a loaded 2-core host.
      await new Promise((r) => setTimeout(r, 800));
      release();
      await waitFor(async () => (await bus.groupStats('md.bars', 'g')).pending === 0, 'all acked');
      const twice = [...handled.values()].filter((n) => n > 1).length;
      expect({ handled: handled.size, twice }).toEqual({ handled: 20, twice: 0 });
    });

    it('another consumer does not take over what a live consumer holds', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'holder',
          blockMs: 5,
          minIdleMs: 300,
          reclaimIntervalMs: 20,
        },
        (batch) => void held.push(...batch),
      );
      await bus.publishBatch('md.bars', [barEnvelope(1), barEnvelope(2), barEnvelope(3)]);
      await waitFor(() => held.length === 3, 'delivered to the holder');
      const stolen: Delivery[] = [];
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'other',
          blockMs: 5,
          minIdleMs: 300,
          reclaimIntervalMs: 10,
        },
        (batch) => {
          stolen.push(...batch);
        },
      );
      // Three times minIdleMs: a host that stalls timers by 100 ms must not count as a dead holder.
      await new Promise((r) => setTimeout(r, 900));
      expect(stolen.map((d) => d.envelope.id)).toEqual([]);
      held.forEach((d) => d.ack());
      await waitFor(async () => (await bus.groupStats('md.bars', 'g')).pending === 0, 'all acked');
    });

    it('redelivers a failed message and counts the outcome', async () => {
      const registry = new Registry();
      const bus = h.bus({ registry });
      const attempts: number[] = [];
      bus.subscribe(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c',
          blockMs: 20,
          minIdleMs: 30,
          maxDeliveries: 5,
        },
        (_e, d) => {
          attempts.push(d.deliveryCount);
          if (d.deliveryCount < 3) throw new Error('downstream busy');
        },
      );
      await bus.publish('md.bars', barEnvelope(1));
      await waitFor(() => attempts.length === 3, 'third attempt');
      expect(attempts).toEqual([1, 2, 3]);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'acked after success',
      );
      const metric = await registry.getSingleMetric('pulse_consume_total')!.get();
      const count = (outcome: string) =>
        metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
      expect(count('error')).toBe(2);
      expect(count('success')).toBe(1);
    });

    it('dead-letters after maxDeliveries with reason, attempts and consumer, acked atomically', async () => {
      const bus = h.bus();
      let calls = 0;
      bus.subscribe(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c9',
          blockMs: 20,
          minIdleMs: 20,
          maxDeliveries: 3,
        },
        () => {
          calls++;
          throw new Error('cannot store bar');
        },
      );
      const env = barEnvelope(7);
      const [entryId] = await bus.publishBatch('md.bars', [env]);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 1,
        'one dead letter',
      );
      const [dl] = await bus.readDeadLetters('md.bars');
      expect(calls).toBe(3);
      expect(dl).toMatchObject({
        sourceStream: `${h.namespace}.md.bars`,
        sourceEntryId: entryId,
        group: 'g',
        consumer: 'c9',
        attempts: 3,
        envelopeId: env.id,
      });
      expect(dl.reason).toContain('cannot store bar');
      expect(JSON.parse(dl.envelope!)).toEqual(env);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'source acked',
      );
    });

    it("dead-letters a delivery at once with the handler's reason when it calls deadLetter, acked atomically", async () => {
      const bus = h.bus();
      let calls = 0;
      const envs = [barEnvelope(1), barEnvelope(2), barEnvelope(3)];
      const refused = new Set([envs[0].id, envs[2].id]);
      bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c10',
          blockMs: 20,
          minIdleMs: 20,
          maxDeliveries: 5,
        },
        (batch) => {
          calls += batch.length;
          // Settled after the handler returned, as the store does once the database answered.
          setTimeout(() => {
            for (const d of batch)
              if (refused.has(d.envelope.id)) d.deadLetter('value out of range');
              else d.ack();
          }, 5);
        },
      );
      await bus.publishBatch('md.bars', envs);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 2,
        'two dead letters',
      );
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'source acked',
      );
      const dls = await bus.readDeadLetters('md.bars');
      expect(dls.map((d) => [d.envelopeId, d.reason, d.attempts, d.consumer])).toEqual(
        [envs[0], envs[2]].map((e) => [e.id, 'value out of range', 1, 'c10']),
      );
      expect(calls).toBe(3);
    });

    it('a released delivery settles as before: its dead letter carries the entry as written', async () => {
      const registry = new Registry();
      const bus = h.bus({ registry });
      const envs = [barEnvelope(1), barEnvelope(2)];
      const readAfterRelease: string[] = [];
      bus.subscribeBatch(
        { stream: 'md.bars', group: 'g', consumer: 'c11', blockMs: 20, maxDeliveries: 5 },
        (batch) => {
          // What the handler keeps of each delivery, as the store keeps its row's COPY tuple.
          const kept = batch.map((d) => ({ d, id: d.envelope.id }));
          for (const d of batch) d.release();
          for (const d of batch) {
            try {
              void d.envelope;
            } catch (err) {
              readAfterRelease.push((err as Error).message);
            }
          }
          setTimeout(() => {
            for (const { d, id } of kept)
              if (id === envs[0].id) d.deadLetter('refused by the database');
              else d.ack();
          }, 5);
        },
      );
      await bus.publishBatch('md.bars', envs);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 1,
        'the dead letter',
      );
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'both settled',
      );
      const [dl] = await bus.readDeadLetters('md.bars');
      expect([dl.envelopeId, dl.reason, dl.envelope]).toEqual([
        envs[0].id,
        'refused by the database',
        JSON.stringify(envs[0]),
      ]);
      expect(readAfterRelease).toHaveLength(2);
      expect(readAfterRelease[0]).toMatch(/was released \(Delivery\.release\)/);
      const metric = await registry.getSingleMetric('pulse_consume_total')!.get();
      const count = (outcome: string) =>
        metric.values.find((v) => v.labels.outcome === outcome && v.labels.track === 'v1')?.value;
      expect([count('success'), count('dead_letter')]).toEqual([1, 1]);
    });

    it('sends poison entries straight to the DLQ with a readable reason and keeps consuming', async () => {
      const bus = h.bus();
      const stream = bus.streamName('md.bars');
      const good = barEnvelope(1);
      const badBar = createEnvelope(
        'md.Bar',
        { ...barEnvelope(2).payload, high: 1 },
        { key: 'AAPL' },
      );
      const wrongTrack = {
        ...barEnvelope(3),
        meta: { schema_id: 'md.Bar', track: 'v9', headers: {} },
      };
      const unknownSchema = createEnvelope('md.Nope', {}, {});
      await h.addRaw(stream, ['id', 'x1', 'envelope', '{not json']);
      await h.addRaw(stream, ['id', 'x2', 'payload', '{}']);
      await h.addRaw(stream, ['envelope', JSON.stringify(badBar)]);
      await h.addRaw(stream, ['envelope', JSON.stringify(wrongTrack)]);
      await h.addRaw(stream, ['envelope', JSON.stringify(unknownSchema)]);
      await h.addRaw(stream, ['envelope', '[1,2]']);
      await bus.publish('md.bars', good);
      const got: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(e.id),
      );
      await waitFor(() => got.length === 1, 'the good envelope');
      expect(got).toEqual([good.id]);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 6,
        'six dead letters',
      );
      const reasons = (await bus.readDeadLetters('md.bars')).map((d) => d.reason);
      expect(reasons[0]).toMatch(/^poison: envelope is not valid JSON/);
      expect(reasons[1]).toMatch(/^poison: no envelope/);
      expect(reasons[2]).toMatch(/^poison: schema: payload\.high: must be >= max\(open, close\)/);
      expect(reasons[3]).toMatch(/^poison: unknown_track: meta\.track: unknown schema track "v9"/);
      expect(reasons[4]).toMatch(/^poison: unknown_schema/);
      expect(reasons[5]).toMatch(/^poison: no envelope: the envelope field is not a JSON object/);
      const dls = await bus.readDeadLetters('md.bars');
      expect(dls[0].original).toEqual({ id: 'x1', envelope: '{not json' });
      expect(dls[0].envelopeId).toBe('x1');
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'poison acked on source',
      );
    });

    it('dead-letters an envelope whose schema does not belong on the stream', async () => {
      const bus = h.bus();
      const good = barEnvelope(1);
      const stranger = createEnvelope(
        'telemetry.FeedbackEvent',
        { coordinator_id: 'c', queue_size: 1, capacity: 10, level: 'ok', ts: 1 },
        { key: 'c' },
      );
      await bus.publishBatch<unknown>('md.bars', [stranger, good]);
      const got: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', schemaIds: ['md.Bar'], group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(e.id),
      );
      await waitFor(() => got.length === 1, 'the bar');
      expect(got).toEqual([good.id]);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 1,
        'one dead letter',
      );
      const [dl] = await bus.readDeadLetters('md.bars');
      expect(dl.reason).toBe(
        'poison: unexpected schema "telemetry.FeedbackEvent" on md.bars (expected md.Bar)',
      );
      expect(dl.envelopeId).toBe(stranger.id);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'acked on source',
      );
    });

    it('drops duplicate envelope ids and counts them', async () => {
      const registry = new Registry();
      const bus = h.bus({ registry });
      const env = barEnvelope(1);
      const got: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(e.id),
      );
      await bus.publishBatch('md.bars', [env, env]);
      await bus.publish('md.bars', env);
      const last = barEnvelope(2);
      await bus.publish('md.bars', last);
      await waitFor(() => got.includes(last.id), 'last handled');
      expect(got).toEqual([env.id, last.id]);
      const metric = await registry.getSingleMetric('pulse_consume_total')!.get();
      expect(metric.values.find((v) => v.labels.outcome === 'duplicate')?.value).toBe(2);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'duplicates acked',
      );
    });

    it('close() lets the in-flight handler finish, acks it, and leaves the rest pending for others', async () => {
      const bus = h.bus();
      const handled: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const sub = bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c1', batchSize: 10, ...fast },
        async (e) => {
          if (handled.length === 0) await gate;
          handled.push(e.id);
          if (handled.length === 1) closing = sub.close();
        },
      );
      let closing: Promise<void> | undefined;
      const sent = Array.from({ length: 10 }, (_, i) => barEnvelope(i));
      await bus.publishBatch('md.bars', sent);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 10,
        'batch delivered',
      );
      release();
      await waitFor(() => closing !== undefined, 'close started');
      await closing;
      // The whole in-flight batch finished; nothing was read after close().
      expect(handled).toEqual(sent.map((e) => e.id));
      expect((await bus.groupStats('md.bars', 'g')).pending).toBe(0);

      await bus.publish('md.bars', barEnvelope(99));
      const later: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c2', ...fast },
        (e) => void later.push(e.id),
      );
      await waitFor(() => later.length === 1, 'next consumer gets the new message');
    });

    it('close() leaves unacked deliveries pending and another consumer reclaims them', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      const sub = bus.subscribeBatch(
        { stream: 'md.bars', group: 'g', consumer: 'c1', ...fast },
        (batch) => {
          held.push(...batch);
        },
      );
      await bus.publishBatch('md.bars', [barEnvelope(1), barEnvelope(2)]);
      await waitFor(() => held.length === 2, 'delivered');
      held[0].ack();
      await sub.close();
      expect((await bus.groupStats('md.bars', 'g')).pending).toBe(1);
      const again: Delivery[] = [];
      bus.subscribeBatch(
        { stream: 'md.bars', group: 'g', consumer: 'c2', blockMs: 20, minIdleMs: 10 },
        (batch) => {
          for (const d of batch) {
            again.push(d);
            d.ack();
          }
        },
      );
      await waitFor(() => again.length === 1, 'reclaimed');
      expect(again[0].envelope.id).toBe(held[1].envelope.id);
      expect(again[0].deliveryCount).toBe(2);
      await waitFor(async () => (await bus.groupStats('md.bars', 'g')).pending === 0, 'acked');
    });

    it('stopReading() stops reading first: what was read is handed to the handler and can still be acked', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      const sub = bus.subscribeBatch(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c',
          batchSize: 20,
          blockMs: 20,
          minIdleMs: 60_000,
        },
        (batch) => void held.push(...batch),
      );
      await bus.publishBatch(
        'md.bars',
        Array.from({ length: 100 }, (_, i) => barEnvelope(i)),
      );
      await waitFor(() => held.length > 0, 'first deliveries');
      await sub.stopReading();
      const handed = held.length;
      await bus.publishBatch(
        'md.bars',
        Array.from({ length: 50 }, (_, i) => barEnvelope(1000 + i)),
      );
      await new Promise((r) => setTimeout(r, 100));
      expect(held.length).toBe(handed); // nothing read after stopReading resolved
      const stats = await bus.groupStats('md.bars', 'g');
      expect(stats.pending).toBe(handed); // everything read was handed out, nothing more
      held.forEach((d) => d.ack());
      await sub.close();
      expect((await bus.groupStats('md.bars', 'g')).pending).toBe(0);
    });

    it('dead-letters entries over maxEntryBytes as "too large" without parsing them, and keeps consuming', async () => {
      const bus = h.bus({ maxEntryBytes: 64 * 1024 });
      const physical = bus.streamName('md.bars');
      const big = barEnvelope(1);
      const bigJson = JSON.stringify({
        ...big,
        meta: { ...big.meta, headers: { pad: 'x'.repeat(200_000) } },
      });
      await bus.publish('md.bars', barEnvelope(0));
      const bigId = await h.addRaw(physical, [
        'id',
        big.id,
        'schema_id',
        'md.Bar',
        'track',
        'v1',
        'envelope',
        bigJson,
      ]);
      await bus.publish('md.bars', barEnvelope(2));
      const got: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(String((e.payload as Bar).ts)),
      );
      await waitFor(() => got.length === 2, 'the two small entries');
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 1,
        'dead-lettered',
      );
      const [dl] = await bus.readDeadLetters('md.bars');
      expect(dl.sourceEntryId).toBe(bigId);
      expect(dl.reason).toMatch(/^too large: .*envelope.*2\d{5} bytes.*max 65536/);
      expect(dl.envelopeId).toBe(big.id);
      expect(dl.envelope).toBeUndefined(); // not copied: the entry stays in the source stream until trimmed
      expect(JSON.stringify(dl.original).length).toBeLessThan(1000);
      await waitFor(
        async () => (await bus.groupStats('md.bars', 'g')).pending === 0,
        'all settled',
      );
    });

    it('caps in-flight deliveries (backpressure) until they are acked', async () => {
      const bus = h.bus();
      const held: Delivery[] = [];
      bus.subscribeBatch(
        { stream: 'md.bars', group: 'g', consumer: 'c', batchSize: 4, maxInFlight: 6, ...fast },
        (batch) => {
          held.push(...batch);
        },
      );
      await bus.publishBatch(
        'md.bars',
        Array.from({ length: 20 }, (_, i) => barEnvelope(i)),
      );
      await waitFor(() => held.length === 6, '6 in flight');
      await new Promise((r) => setTimeout(r, 100));
      expect(held.length).toBe(6);
      // Reads ahead count against the cap too: nothing more was taken from the stream.
      expect((await bus.groupStats('md.bars', 'g')).pending).toBe(6);
      held.slice(0, 3).forEach((d) => d.ack());
      await waitFor(() => held.length === 9, '3 more after 3 acks');
      await new Promise((r) => setTimeout(r, 100));
      expect(held.length).toBe(9);
      for (let acked = 3; acked < 20; acked++) {
        await waitFor(() => held.length > acked, `delivery ${acked + 1}`);
        expect(held.length - acked).toBeLessThanOrEqual(6);
        held[acked].ack();
      }
      expect(new Set(held.map((d) => d.envelope.id)).size).toBe(20);
    });

    it('retries in process with the retry middleware before failing', async () => {
      const bus = h.bus();
      let calls = 0;
      const ok: string[] = [];
      bus.subscribe(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c',
          ...fast,
          middleware: [retry({ attempts: 3, initialDelayMs: 1 })],
        },
        (e, d) => {
          calls++;
          if (calls < 3) throw new Error('flaky');
          expect(d.deliveryCount).toBe(1);
          ok.push(e.id);
        },
      );
      await bus.publish('md.bars', barEnvelope(1));
      await waitFor(() => ok.length === 1, 'handled after retries');
      expect(calls).toBe(3);
    });

    it('partitions by key, keeps per-key order, and spreads partitions over consumers', async () => {
      const partitions = { 'md.bars': 4 };
      const bus = h.bus({ partitions });
      expect(bus.physicalStreams('md.bars')).toEqual(
        [0, 1, 2, 3].map((p) => `{${h.namespace}.md.bars.p${p}}`),
      );
      const symbols = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'IBM'];
      const sent = Array.from({ length: 160 }, (_, i) =>
        barEnvelope(i, symbols[i % symbols.length]),
      );
      await bus.publishBatch('md.bars', sent);
      const seen: Record<string, string[]> = {};
      const readers: Record<string, Set<string>> = {};
      for (const i of [0, 1]) {
        const parts = assignPartitions(i, 2, 4);
        expect(parts).toEqual(i === 0 ? [0, 2] : [1, 3]);
        bus.subscribe(
          {
            stream: 'md.bars',
            group: 'g',
            consumer: `c${i}`,
            partitions: parts,
            batchSize: 9,
            ...fast,
          },
          (e) => {
            (seen[e.key!] ??= []).push(e.id);
            (readers[e.key!] ??= new Set()).add(`c${i}`);
          },
        );
      }
      await waitFor(
        () => Object.values(seen).reduce((n, l) => n + l.length, 0) === 160,
        'all partitions drained',
      );
      for (const s of symbols) {
        expect(seen[s]).toEqual(sent.filter((e) => e.key === s).map((e) => e.id));
        expect(readers[s].size).toBe(1);
      }
    });

    it('reads the DLQ and replays selected entries to the source stream', async () => {
      const bus = h.bus();
      let fixed = false;
      const ok: string[] = [];
      bus.subscribe(
        {
          stream: 'md.bars',
          group: 'g',
          consumer: 'c',
          blockMs: 20,
          minIdleMs: 10,
          maxDeliveries: 1,
        },
        (e) => {
          if (!fixed) throw new Error('bug in handler');
          ok.push(e.id);
        },
      );
      const envs = [barEnvelope(1), barEnvelope(2), barEnvelope(3)];
      await bus.publishBatch('md.bars', envs);
      await waitFor(
        async () => (await bus.readDeadLetters('md.bars')).length === 3,
        '3 dead letters',
      );
      const dls = await bus.readDeadLetters('md.bars');
      fixed = true;
      const replayed = await bus.replayDeadLetters('md.bars', (dl) => dl.envelopeId !== envs[1].id);
      expect(replayed).toBe(2);
      await waitFor(() => ok.length === 2, 'replayed handled');
      expect(ok).toEqual([envs[0].id, envs[2].id]);
      const left = await bus.readDeadLetters('md.bars');
      expect(left.map((d) => d.dlqEntryId)).toEqual([dls[1].dlqEntryId]);
      expect(await bus.replayDeadLetters('md.bars', [dls[1].dlqEntryId])).toBe(1);
      await waitFor(() => ok.length === 3, 'second replay handled');
    });

    it('signs envelopes when a token is set and dead-letters missing or wrong signatures', async () => {
      const signed = h.bus({ publisherToken: 's3cret' });
      const unsigned = h.bus();
      const forged = h.bus({ publisherToken: 'other' });
      const got: EventEnvelope[] = [];
      signed.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(e),
      );
      const good = barEnvelope(1);
      await signed.publish('md.bars', good);
      await unsigned.publish('md.bars', barEnvelope(2));
      await forged.publish('md.bars', barEnvelope(3));
      await waitFor(
        async () => (await signed.readDeadLetters('md.bars')).length === 2,
        'two rejected',
      );
      expect(got.map((e) => e.id)).toEqual([good.id]);
      expect(got[0].meta.headers['x-pulse-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
      const reasons = (await signed.readDeadLetters('md.bars')).map((d) => d.reason);
      expect(reasons[0]).toMatch(/^poison: missing signature/);
      expect(reasons[1]).toMatch(/^poison: bad signature/);
    });

    it('trims streams by MAXLEN and by MINID (time retention)', async () => {
      const bus = h.bus();
      const stream = bus.streamName('md.bars');
      for (let i = 0; i < 10; i++)
        await bus.publishBatch(
          'md.bars',
          Array.from({ length: 100 }, (_, k) => barEnvelope(i * 100 + k)),
          { maxLen: 100 },
        );
      const afterMaxLen = await h.length(stream);
      expect(afterMaxLen).toBeGreaterThanOrEqual(100);
      expect(afterMaxLen).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 30));
      await bus.publish('md.bars', barEnvelope(5000), { retentionMs: 10 });
      expect(await h.length(stream)).toBeLessThan(afterMaxLen);
    });

    it('reads both tracks', async () => {
      const bus = h.bus({ track: 'v2' });
      const got: string[] = [];
      bus.subscribe(
        { stream: 'md.bars', group: 'g', consumer: 'c', ...fast },
        (e) => void got.push(e.meta.track),
      );
      await bus.publish(
        'md.bars',
        bus.envelope('md.Bar', { ...barEnvelope(1).payload, trades: 3 }, { key: 'AAPL' }),
      );
      await bus.publish('md.bars', barEnvelope(2, 'AAPL', { track: 'v1' }));
      await waitFor(() => got.length === 2, 'both tracks');
      expect(got).toEqual(['v2', 'v1']);
    });
  });
}
