import { ConfigError } from '@mdp/service-kit';
import { loadStoreEnv } from '../../src/config/store-config';
import { NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { Registry } from 'prom-client';
import { createStoreCoordinator, faultySinkOf } from '../../src/app/coordinator.module';
import { SinkFaultAdminController } from '../../src/app/fault-admin.module';
import type { RejectFiles } from '../../src/rejects/reject-files';
import { FeedbackEmitter } from '../../src/feedback/feedback-emitter';
import type { SqlClient } from '@mdp/sql';
import { FaultySink, withSinkFaults } from '../../src/sinks/sink-faults';
import type { BatchSink } from '../../src/coordinator/write-coordinator';

class CountingSink implements BatchSink<number> {
  written: number[][] = [];
  async write(items: number[]): Promise<void> {
    this.written.push(items);
  }
}

describe('sink fault injection (MDS_FAULT_SINK_*)', () => {
  it('is off by default: the sink is used as it is', () => {
    const env = loadStoreEnv({});
    expect(env.MDS_FAULT_SINK_DELAY_MS).toBe(0);
    expect(env.MDS_FAULT_SINK_MAX_ROWS_PER_SEC).toBeUndefined();
    expect(env.MDS_FAULT_SINK_DURATION_SEC).toBeUndefined();
    const sink = new CountingSink();
    expect(withSinkFaults(sink, { delayMs: 0 })).toBe(sink);
  });

  it('reads and validates its settings', () => {
    const env = loadStoreEnv({
      MDS_FAULT_SINK_DELAY_MS: '20',
      MDS_FAULT_SINK_MAX_ROWS_PER_SEC: '250.5',
      MDS_FAULT_SINK_DURATION_SEC: '8',
    });
    expect(env).toMatchObject({
      MDS_FAULT_SINK_DELAY_MS: 20,
      MDS_FAULT_SINK_MAX_ROWS_PER_SEC: 250.5,
      MDS_FAULT_SINK_DURATION_SEC: 8,
    });
    let err: unknown;
    try {
      loadStoreEnv({
        MDS_FAULT_SINK_DELAY_MS: '-1',
        MDS_FAULT_SINK_MAX_ROWS_PER_SEC: 'fast',
        MDS_FAULT_SINK_DURATION_SEC: '0',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).problems.join('\n');
    expect(lines).toMatch(/MDS_FAULT_SINK_DELAY_MS: must be >= 0/);
    expect(lines).toMatch(/MDS_FAULT_SINK_MAX_ROWS_PER_SEC: must be a number > 0/);
    expect(lines).toMatch(/MDS_FAULT_SINK_DURATION_SEC: must be a number > 0/);
  });

  it('shares one row rate between concurrent batches and adds the fixed delay', () => {
    let now = 1_000;
    const sink = new FaultySink(
      new CountingSink(),
      { delayMs: 50, maxRowsPerSec: 1000 },
      () => now,
    );
    expect(sink.admit(100)).toBe(100); // 100 rows at 1000/s: 100 ms
    expect(sink.admit(100)).toBe(200); // booked after the first
    now += 500;
    expect(sink.admit(10)).toBe(50); // the rate has room again: only the fixed delay
  });

  it('ends after its duration and never holds a batch past the end', () => {
    let now = 0;
    const sink = new FaultySink(
      new CountingSink(),
      { delayMs: 0, maxRowsPerSec: 10, durationMs: 2_000 },
      () => now,
    );
    expect(sink.active).toBe(true);
    expect(sink.admit(100)).toBe(2_000); // 10 s of rows, cut at the end of the fault
    now = 2_000;
    expect(sink.active).toBe(false);
    expect(sink.admit(1_000_000)).toBe(0);
  });

  it('times its duration from the first batch, not from start-up', () => {
    let now = 0;
    const sink = new FaultySink(new CountingSink(), { delayMs: 50, durationMs: 1_000 }, () => now);
    now = 5_000; // a slow start: no load for longer than the fault lasts
    expect(sink.active).toBe(true);
    expect(sink.admit(10)).toBe(50);
    now = 5_999;
    expect(sink.admit(10)).toBe(1);
    now = 6_000;
    expect(sink.active).toBe(false);
    expect(sink.admit(10)).toBe(0);
  });

  it('writes every batch it is given, unchanged', async () => {
    const inner = new CountingSink();
    const sink = new FaultySink(inner, { delayMs: 1 });
    await sink.write([1, 2]);
    await sink.write([3]);
    expect(inner.written).toEqual([[1, 2], [3]]);
  });
});

describe('sink faults at run time (MDS_FAULT_SINK_ADMIN, PUT /admin/faults/sink)', () => {
  const coordinatorWith = (env: Record<string, string>) =>
    createStoreCoordinator(
      loadStoreEnv(env),
      {} as SqlClient,
      {} as RejectFiles,
      new FeedbackEmitter(),
      new Registry(),
    );

  it('a FaultySink takes new settings while running: the new rate applies at once and forgets the old bookings', () => {
    let now = 0;
    const sink = new FaultySink(new CountingSink(), { delayMs: 0, maxRowsPerSec: 1000 }, () => now);
    expect(sink.admit(1000)).toBe(1000);
    sink.set({ delayMs: 0, maxRowsPerSec: 100 });
    expect(sink.admit(100)).toBe(1000);
    sink.set({ delayMs: 0, maxRowsPerSec: 10_000, durationMs: 500 });
    expect(sink.admit(1000)).toBe(100);
    now = 600;
    expect(sink.admit(1_000_000)).toBe(0); // the new fault's duration is over
    expect(sink.settings).toEqual({ delayMs: 0, maxRowsPerSec: 10_000, durationMs: 500 });
  });

  it('is 404 unless the store started with MDS_FAULT_SINK_ADMIN=true', () => {
    const controller = new SinkFaultAdminController(coordinatorWith({}));
    expect(() => controller.current()).toThrow(NotFoundException);
    expect(() => controller.replace({ max_rows_per_sec: 10 })).toThrow(NotFoundException);
  });

  it('reads and replaces the faults; bad bodies are rejected with the field named', () => {
    const coordinator = coordinatorWith({
      MDS_FAULT_SINK_ADMIN: 'true',
      MDS_FAULT_SINK_MAX_ROWS_PER_SEC: '5000',
    });
    const controller = new SinkFaultAdminController(coordinator);
    expect(controller.current()).toEqual({
      delay_ms: 0,
      max_rows_per_sec: 5000,
      duration_sec: null,
    });
    expect(controller.replace({ max_rows_per_sec: 500, duration_sec: 20 })).toEqual({
      delay_ms: 0,
      max_rows_per_sec: 500,
      duration_sec: 20,
    });
    expect(faultySinkOf(coordinator)!.settings).toEqual({
      delayMs: 0,
      maxRowsPerSec: 500,
      durationMs: 20_000,
    });
    expect(controller.replace({})).toEqual({
      delay_ms: 0,
      max_rows_per_sec: null,
      duration_sec: null,
    });
    expect(() => controller.replace({ max_rows_per_sec: -1 })).toThrow(/max_rows_per_sec/);
    expect(() => controller.replace({ rows: 5 })).toThrow(UnprocessableEntityException);
    expect(() => controller.replace('fast')).toThrow(UnprocessableEntityException);
  });
});
