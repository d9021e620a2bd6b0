import { CircuitState } from 'cockatiel';
import { Registry } from 'prom-client';
import type { FeedbackEvent } from '@mdp/contracts';
import {
  SettleOutcome,
  WriteCoordinator,
  WriteCoordinatorOptions,
} from '../../src/coordinator/write-coordinator';

interface Item {
  id: number;
  bad?: boolean;
}

class TransientError extends Error {
  code = 'ECONNREFUSED';
}
class DataError extends Error {
  code = '22P02';
}

/** Sink double: records batches; can be made to fail transiently, or to reject batches holding bad items. */
class FakeSink {
  batches: number[][] = [];
  /** Every write as it begins (before the gate), failed ones included. */
  started: number[][] = [];
  written = new Set<number>();
  down = false;
  failNext = 0;
  gate?: Promise<void>;
  async write(items: Item[]): Promise<void> {
    this.started.push(items.map((i) => i.id));
    if (this.gate) await this.gate;
    if (this.down) throw new TransientError('connect ECONNREFUSED 127.0.0.1:1');
    if (this.failNext > 0) {
      this.failNext--;
      throw new TransientError('connection reset');
    }
    if (items.some((i) => i.bad)) throw new DataError('invalid input syntax');
    this.batches.push(items.map((i) => i.id));
    for (const i of items) this.written.add(i.id);
  }
}

const isRetryable = (err: Error) => (err as { code?: string }).code === 'ECONNREFUSED';

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(overrides: Partial<WriteCoordinatorOptions<Item>> = {}) {
  const sink = new FakeSink();
  const dead: Array<{ ids: number[]; error: string; attempts: number }> = [];
  const settled = new Map<number, SettleOutcome>();
  const events: FeedbackEvent[] = [];
  const registry = new Registry();
  const coord = new WriteCoordinator<Item>({
    id: 'test',
    sink,
    isRetryable,
    deadLetter: async (items, error, attempts) =>
      void dead.push({ ids: items.map((i) => i.id), error: error.message, attempts }),
    onSettled: (items, outcome) => items.forEach((i) => settled.set(i.id, outcome)),
    feedback: { publish: (e) => void events.push(e) },
    capacity: 100,
    workers: 2,
    batchSize: 10,
    flushIntervalMs: 20,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5, jitter: false },
    breaker: { failureThreshold: 100, halfOpenAfterMs: 50 },
    registry,
    ...overrides,
  });
  return { sink, dead, settled, events, registry, coord };
}

/** A coordinator with two workers whose first write (item 0) is held at the sink until `release()`. */
async function withFirstWriteHeld(overrides: Partial<WriteCoordinatorOptions<Item>>) {
  const ctx = setup({ workers: 2, ...overrides });
  let open!: () => void;
  ctx.sink.gate = new Promise<void>((r) => (open = r));
  ctx.coord.start();
  await ctx.coord.submit({ id: 0 });
  await until(() => ctx.sink.started.length === 1);
  const release = () => {
    ctx.sink.gate = undefined;
    open();
  };
  return { ...ctx, release };
}

const items = (from: number, n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: from + i }));

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
}

describe('WriteCoordinator', () => {
  it('batches by size: a backlog is written in batches of at most the batch size, without waiting for the flush interval', async () => {
    const { coord, sink } = setup({ workers: 1, flushIntervalMs: 60_000 });
    coord.start();
    await coord.submitMany(items(0, 25));
    await until(() => sink.written.size === 25);
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    await coord.stop(1000);
  });

  it('group commit: with no batch being written, a partial batch is written at once, not after the flush interval', async () => {
    const { coord, sink } = setup({ workers: 2, flushIntervalMs: 60_000 });
    coord.start();
    await coord.submitMany(items(0, 3));
    await until(() => sink.written.size === 3);
    expect(sink.batches).toEqual([[0, 1, 2]]);
    await coord.stop(1000);
  });

  it('group commit: rows arriving while a batch is being written gather and go as one batch when it ends', async () => {
    const { coord, sink, release } = await withFirstWriteHeld({ flushIntervalMs: 60_000 });
    for (const item of items(1, 3)) await coord.submit(item);
    // The second worker is free, but holds the partial batch back while the first write runs.
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.started).toEqual([[0]]);
    release();
    await until(() => sink.written.size === 4);
    expect(sink.batches).toEqual([[0], [1, 2, 3]]);
    await coord.stop(1000);
  });

  it('group commit: a full batch is written at once while another is being written', async () => {
    const { coord, sink, release } = await withFirstWriteHeld({ flushIntervalMs: 60_000 });
    await coord.submitMany(items(1, 10));
    await until(() => sink.started.length === 2);
    expect(sink.started).toEqual([[0], items(1, 10).map((i) => i.id)]);
    release();
    await until(() => sink.written.size === 11);
    await coord.stop(1000);
  });

  it('group commit: the flush interval caps how long a partial batch waits behind a write in flight', async () => {
    const { coord, sink, release } = await withFirstWriteHeld({ flushIntervalMs: 20 });
    await coord.submitMany(items(1, 3));
    // The first write never ends until released: only the flush interval lets the second one start.
    await until(() => sink.started.length === 2);
    expect(sink.started).toEqual([[0], [1, 2, 3]]);
    release();
    await until(() => sink.written.size === 4);
    await coord.stop(1000);
  });

  it('retries retryable failures with exponential backoff and then writes', async () => {
    const delays: number[] = [];
    const { coord, sink, settled } = setup({
      workers: 1,
      retry: {
        maxAttempts: 4,
        initialBackoffMs: 10,
        maxBackoffMs: 1000,
        multiplier: 3,
        jitter: false,
      },
    });
    (
      coord as unknown as { retry: { onRetry: (cb: (e: { delay: number }) => void) => void } }
    ).retry.onRetry((e) => delays.push(e.delay));
    sink.failNext = 3;
    coord.start();
    await coord.submit({ id: 1 });
    await until(() => settled.get(1) === 'written');
    expect(delays).toEqual([10, 30, 90]);
    await coord.stop(1000);
  });

  it('a batch that exhausts its retries while the circuit stays closed is dead-lettered, and the worker survives', async () => {
    const { coord, sink, dead, settled, registry } = setup({ workers: 1, batchSize: 1 });
    sink.failNext = 3; // exactly maxAttempts
    coord.start();
    await coord.submit({ id: 1 });
    await until(() => settled.has(1));
    expect(settled.get(1)).toBe('dead_lettered');
    expect(dead).toEqual([{ ids: [1], error: 'connection reset', attempts: 3 }]);
    await coord.submit({ id: 2 });
    await until(() => settled.get(2) === 'written');
    expect(await metric(registry, 'mds_coord_workers_alive')).toBe(1);
    await coord.stop(1000);
  });

  it('invalid rows go to the dead-letter queue while the valid rows of the same batch are written', async () => {
    const { coord, sink, dead, settled, registry } = setup({ workers: 2 });
    coord.start();
    const batch = items(0, 10).map((i) => (i.id === 3 || i.id === 7 ? { ...i, bad: true } : i));
    await coord.submitMany(batch);
    await until(() => settled.size === 10);
    expect([...sink.written].sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
    expect(
      dead
        .map((d) => d.ids)
        .flat()
        .sort(),
    ).toEqual([3, 7]);
    expect(dead[0].error).toBe('invalid input syntax');
    expect(await metric(registry, 'mds_coord_workers_alive')).toBe(2);
    await coord.stop(1000);
  });

  it('fails an item back (for redelivery) when even the dead-letter file cannot be written', async () => {
    const { coord, settled, registry } = setup({
      workers: 1,
      deadLetter: async () => {
        throw new Error('ENOSPC: no space left on device');
      },
    });
    coord.start();
    await coord.submitMany([{ id: 1, bad: true }, { id: 2 }]);
    await until(() => settled.size === 2);
    expect(settled.get(1)).toBe('failed');
    expect(settled.get(2)).toBe('written');
    expect(await metric(registry, 'mds_coord_workers_alive')).toBe(1);
    await coord.stop(1000);
  });

  it('opens the circuit, holds batches without spending attempts or dropping, and recovers through half-open', async () => {
    const { coord, sink, dead, settled, events, registry } = setup({
      capacity: 20,
      workers: 2,
      batchSize: 5,
      breaker: { failureThreshold: 3, halfOpenAfterMs: 30 },
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 2, jitter: false },
    });
    const states: CircuitState[] = [];
    coord.breaker.onStateChange((s) => states.push(s));
    sink.down = true;
    coord.start();
    const submitting = coord.submitMany(items(0, 30)); // more than capacity: blocks until the sink recovers
    await until(() => coord.circuitState === CircuitState.Open);
    await until(() => events.some((e) => e.level === 'hard'));
    expect(await metric(registry, 'mds_coord_circuit_state')).toBe(1);
    // Several half-open probes fail while the sink stays down: more failures than maxAttempts (2),
    // yet nothing is dead-lettered, because a held batch does not spend its attempts.
    await until(() => states.filter((s) => s === CircuitState.HalfOpen).length >= 3);
    expect(dead).toEqual([]);
    expect(settled.size).toBe(0);
    sink.down = false;
    await submitting;
    await until(() => settled.size === 30);
    expect([...settled.values()].every((o) => o === 'written')).toBe(true);
    expect(sink.written.size).toBe(30);
    expect(coord.circuitState).toBe(CircuitState.Closed);
    // The queue may pass ok -> hard -> ok while the blocked producer refills it: wait for the final event.
    await until(() => events[events.length - 1]?.level === 'ok');
    const last = events[events.length - 1];
    expect(last).toMatchObject({
      level: 'ok',
      reason: 'queue_recovered',
      coordinator_id: 'test',
      capacity: 20,
      source: 'store',
    });
    expect(await metric(registry, 'mds_coord_items_dropped_total')).toBe(0);
    await coord.stop(1000);
  });

  it('logs the circuit opening once (error, with the database error) and closing once (info), however many probes fail', async () => {
    const lines: Array<[string, Record<string, unknown>, string]> = [];
    const at = (level: string) => (obj: object, msg: string) =>
      void lines.push([level, obj as Record<string, unknown>, msg]);
    const { coord, sink, settled } = setup({
      capacity: 20,
      workers: 2,
      batchSize: 5,
      breaker: { failureThreshold: 3, halfOpenAfterMs: 20, halfOpenMaxMs: 20 },
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 2, jitter: false },
      logger: { warn: at('warn'), error: at('error'), info: at('info') },
    });
    const states: CircuitState[] = [];
    coord.breaker.onStateChange((s) => states.push(s));
    sink.down = true;
    coord.start();
    const submitting = coord.submitMany(items(0, 10));
    await until(() => states.filter((s) => s === CircuitState.HalfOpen).length >= 3);
    sink.down = false;
    await submitting;
    await until(() => settled.size === 10);
    await until(() => coord.circuitState === CircuitState.Closed);
    await coord.stop(1000);
    expect(lines.map(([level, , msg]) => [level, msg])).toEqual([
      ['error', 'circuit open: the database is failing; holding batches until it answers again'],
      ['info', 'circuit closed: the database answers again; writes resumed'],
    ]);
    expect(lines[0][1]).toMatchObject({
      coordinator_id: 'test',
      err: 'connect ECONNREFUSED 127.0.0.1:1',
    });
    expect(lines[1][1]).toMatchObject({
      coordinator_id: 'test',
      down_ms: expect.any(Number),
      failures: expect.any(Number),
    });
  });

  it('drop_oldest dead-letters the evicted items and counts them', async () => {
    const { coord, dead, settled, registry } = setup({ capacity: 3, overflow: 'drop_oldest' });
    // not started: nothing drains the queue
    await coord.submitMany(items(0, 5));
    await until(() => dead.length === 2);
    expect(dead.map((d) => d.ids[0])).toEqual([0, 1]);
    expect(dead[0].error).toMatch(/dropped/);
    expect(settled.get(0)).toBe('dropped');
    expect(await metric(registry, 'mds_coord_items_dropped_total')).toBe(2);
    coord.start();
    await until(() => settled.size === 5);
    await coord.stop(1000);
  });

  it('error overflow rejects submissions when full', async () => {
    const { coord } = setup({ capacity: 2, overflow: 'error' });
    await coord.submit({ id: 1 });
    await coord.submit({ id: 2 });
    await expect(coord.submit({ id: 3 })).rejects.toThrow('queue is full');
  });

  it('drains the queue on stop', async () => {
    const { coord, sink, settled } = setup({ workers: 1, batchSize: 5 });
    let open!: () => void;
    sink.gate = new Promise<void>((r) => (open = r));
    coord.start();
    await coord.submitMany(items(0, 20));
    const stopping = coord.stop(10_000);
    await expect(coord.submit({ id: 99 })).rejects.toThrow('closed');
    open();
    expect(await stopping).toEqual({ drained: true, pending: 0 });
    expect(settled.size).toBe(20);
  });

  it('leaves what it cannot write within the drain timeout unsettled', async () => {
    const { coord, sink, settled } = setup({
      workers: 1,
      batchSize: 5,
      breaker: { failureThreshold: 1, halfOpenAfterMs: 60_000 },
    });
    sink.down = true;
    coord.start();
    await coord.submitMany(items(0, 12));
    await until(() => coord.circuitState === CircuitState.Open);
    const res = await coord.stop(50);
    expect(res.drained).toBe(false);
    expect(res.pending).toBe(12);
    expect(settled.size).toBe(0);
  });
});
