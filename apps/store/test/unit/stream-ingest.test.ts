import type { BatchHandler, Delivery, EventBus, SubscribeOptions } from '@mdp/pulse';
import { createEnvelope, createEventBus } from '@mdp/pulse';
import { uniqueId } from '@mdp/testing';
import { WriteCoordinator } from '../../src/coordinator/write-coordinator';
import { STORE_GROUP, StreamIngest } from '../../src/ingest/stream-ingest';
import type { StoreItem } from '../../src/sinks/store-sink';
import type { Row } from '../../src/sinks/tables';
import { makeBars, until } from '../helpers/bars';

/** Captures subscriptions so a test can hand batches to the ingest handler itself. */
function fakeBus(backend: 'inmem' | 'redis' = 'inmem') {
  const subs: Array<{ opts: SubscribeOptions; handler: BatchHandler<Row>; closed: boolean }> = [];
  const bus = {
    backend,
    subscribeBatch: (opts: SubscribeOptions, handler: BatchHandler<Row>) => {
      const sub = { opts, handler, closed: false };
      subs.push(sub);
      return { stopReading: async () => undefined, close: async () => void (sub.closed = true) };
    },
  } as unknown as EventBus;
  return { bus, subs };
}

type Outcome = 'pending' | 'acked' | string;

function deliveries(
  n: number,
  bars: Row[] = makeBars(n),
): { batch: Delivery<Row>[]; outcome: Outcome[]; released: boolean[] } {
  const outcome: Outcome[] = Array(n).fill('pending');
  const released: boolean[] = Array(n).fill(false);
  const batch = bars.map((bar, i) => ({
    envelope: createEnvelope('md.Bar', bar),
    stream: 'md.bars',
    entryId: `${i}-0`,
    deliveryCount: 1,
    ack: () => void (outcome[i] = 'acked'),
    fail: (reason: string) => void (outcome[i] = `failed: ${reason}`),
    deadLetter: (reason: string) => void (outcome[i] = `dead-lettered: ${reason}`),
    release: () => void (released[i] = true),
  }));
  return { batch, outcome, released };
}

function coordinator(opts: {
  capacity: number;
  overflow?: 'block' | 'error';
  write?: (items: StoreItem[]) => Promise<void>;
}) {
  return new WriteCoordinator<StoreItem>({
    id: 'ingest-test',
    sink: { write: opts.write ?? (async () => undefined) },
    deadLetter: async () => undefined,
    isRetryable: () => false,
    onSettled: (items, outcome) => items.forEach((i) => i.settle?.(outcome)),
    capacity: opts.capacity,
    overflow: opts.overflow,
    workers: 1,
    batchSize: 10,
    flushIntervalMs: 5,
  });
}

describe('StreamIngest', () => {
  it('subscribes to every md.* stream with group store and acks only after the write', async () => {
    const { bus, subs } = fakeBus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const coord = coordinator({ capacity: 100, write: () => gate });
    const ingest = new StreamIngest(bus, coord, { consumer: 'c1', maxInFlight: 123, readAhead: 1 });
    ingest.start();
    expect(
      subs.map((s) => [
        s.opts.stream,
        s.opts.group,
        s.opts.consumer,
        s.opts.maxInFlight,
        s.opts.readAhead,
      ]),
    ).toEqual([
      ['md.bars', 'store', 'c1', 123, 1],
      ['md.options', 'store', 'c1', 123, 1],
      ['md.news', 'store', 'c1', 123, 1],
      ['md.fundamentals', 'store', 'c1', 123, 1],
    ]);
    coord.start();
    const { batch, outcome } = deliveries(5);
    await subs[0].handler(batch);
    await new Promise((r) => setTimeout(r, 20));
    expect(outcome).toEqual(Array(5).fill('pending')); // queued, not yet durable
    release();
    await until(() => outcome.every((o) => o === 'acked'));
    await coord.stop(1000);
    await ingest.close();
    expect(subs.every((s) => s.closed)).toBe(true);
  });

  it('with a full queue (block) the handler does not return, so the subscription stops reading', async () => {
    const { bus, subs } = fakeBus();
    const coord = coordinator({ capacity: 3 }); // not started: nothing drains
    new StreamIngest(bus, coord, { consumer: 'c', kinds: ['bars'] }).start();
    let returned = false;
    const handling = Promise.resolve(subs[0].handler(deliveries(5).batch)).then(
      () => (returned = true),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(returned).toBe(false);
    expect(coord.size).toBe(3);
    coord.start();
    await handling;
    await coord.stop(1000);
  });

  it('overflow=error fails exactly the messages that did not fit, for redelivery', async () => {
    const { bus, subs } = fakeBus();
    const coord = coordinator({ capacity: 3, overflow: 'error' });
    new StreamIngest(bus, coord, { consumer: 'c', kinds: ['bars'] }).start();
    const { batch, outcome } = deliveries(5);
    await subs[0].handler(batch);
    expect(outcome.slice(3)).toEqual([
      'failed: store queue full (overflow=error)',
      'failed: store queue full (overflow=error)',
    ]);
    coord.start();
    await until(() => outcome.slice(0, 3).every((o) => o === 'acked'));
    await coord.stop(1000);
  });

  it('fails a message back to Pulse when its row could be neither written nor dead-lettered', async () => {
    const { bus, subs } = fakeBus();
    const coord = new WriteCoordinator<StoreItem>({
      id: 'ingest-fail',
      sink: {
        write: async () => Promise.reject(Object.assign(new Error('bad'), { code: '22P02' })),
      },
      deadLetter: async () => Promise.reject(new Error('read-only file system')),
      isRetryable: () => false,
      onSettled: (items, outcome) => items.forEach((i) => i.settle?.(outcome)),
      workers: 1,
      batchSize: 10,
      flushIntervalMs: 5,
    });
    new StreamIngest(bus, coord, { consumer: 'c', kinds: ['bars'] }).start();
    coord.start();
    const { batch, outcome } = deliveries(2);
    await subs[0].handler(batch);
    await until(() => outcome.every((o) => o !== 'pending'));
    expect(outcome).toEqual(
      Array(2).fill(
        'failed: store could neither write the row nor record it in the dead-letter file',
      ),
    );
    await coord.stop(1000);
  });

  it('on a Redis bus holds bars as COPY tuples and releases their envelopes; a bar the binary form cannot carry keeps its own', async () => {
    const { bus, subs } = fakeBus('redis');
    const written: StoreItem[] = [];
    const coord = coordinator({
      capacity: 100,
      write: async (items) => void written.push(...items),
    });
    new StreamIngest(bus, coord, { consumer: 'c', kinds: ['bars'] }).start();
    coord.start();
    const bars = makeBars(4) as Row[];
    bars[2] = { ...bars[2], trades: 1.5 }; // a fractional bigint: only the server can refuse it
    const { batch, outcome, released } = deliveries(4, bars);
    await subs[0].handler(batch);
    await until(() => outcome.every((o) => o === 'acked'));
    expect(released).toEqual([true, true, false, true]);
    expect(written.map((i) => i.tuples !== undefined)).toEqual([true, true, false, true]);
    // What the fallbacks read: the row as the table stores it (symbols upper-cased, absent columns null).
    expect(written.map((i) => i.row)).toEqual(
      bars.map((b, i) =>
        i === 2
          ? b
          : {
              ...b,
              symbol: String(b.symbol).toUpperCase(),
              trades: b.trades ?? null,
              vwap: b.vwap ?? null,
            },
      ),
    );
    await coord.stop(1000);
  });

  it('on shutdown stops reading first, then drains: nothing it read is left pending', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId('ingest') });
    const coord = coordinator({ capacity: 500, write: () => new Promise((r) => setTimeout(r, 2)) });
    coord.start();
    const ingest = new StreamIngest(bus, coord, {
      consumer: 'c',
      kinds: ['bars'],
      batchSize: 100,
      blockMs: 20,
      maxInFlight: 1000,
    });
    ingest.start();
    await bus.publishBatch(
      'md.bars',
      makeBars(3000).map((b) => createEnvelope('md.Bar', b as Row)),
    );
    await until(() => ingest.received > 0);
    // What StoreLifecycle does on SIGTERM.
    await ingest.stopReading();
    const stop = await coord.stop(10_000);
    await ingest.close();
    expect(stop).toEqual({ drained: true, pending: 0 });
    const stats = await bus.groupStats('md.bars', STORE_GROUP);
    expect({ received: ingest.received > 0, pending: stats.pending }).toEqual({
      received: true,
      pending: 0,
    });
    await bus.close();
  });

  it('an operator pause closes the subscriptions and keeps ingest stopped until resume', async () => {
    const { bus, subs } = fakeBus();
    const coord = coordinator({ capacity: 10 });
    const ingest = new StreamIngest(bus, coord, { consumer: 'c', kinds: ['bars'] });
    expect(ingest.resume()).toBe(false); // not started yet: lifting a pause starts nothing
    ingest.start();
    await ingest.suspend();
    expect(subs[0].closed).toBe(true);
    expect(ingest.suspended).toBe(true);
    ingest.start(); // e.g. the store finishing its start-up meanwhile
    expect(subs).toHaveLength(1);
    expect(ingest.resume()).toBe(true);
    expect(subs).toHaveLength(2);
    expect(subs[1]).toMatchObject({
      closed: false,
      opts: { stream: 'md.bars', group: 'store', consumer: 'c' },
    });
    await ingest.close();
  });
});
