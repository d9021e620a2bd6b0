import { ConfigError } from '@mdp/service-kit';
import { loadStoreEnv } from '../../src/config/store-config';
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

  it('writes every batch it is given, unchanged', async () => {
    const inner = new CountingSink();
    const sink = new FaultySink(inner, { delayMs: 1 });
    await sink.write([1, 2]);
    await sink.write([3]);
    expect(inner.written).toEqual([[1, 2], [3]]);
  });
});
