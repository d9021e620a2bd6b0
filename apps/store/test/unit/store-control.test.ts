import type { AuditEnvelope, ControlAction, EventEnvelope } from '@mdp/contracts';
import { createEnvelope, createEventBus, type PulseBus } from '@mdp/pulse';
import { STREAMS } from '@mdp/contracts';
import { CORRELATION_HEADER, OPERATION_HEADER } from '@mdp/service-kit';
import { uniqueId } from '@mdp/testing';
import { StoreControl } from '../../src/control/store-control';
import type { StreamIngest } from '../../src/ingest/stream-ingest';

/** Records what control does to ingest. */
function fakeIngest() {
  const calls: string[] = [];
  let started = true;
  return {
    calls,
    ingest: {
      suspend: async () => void calls.push('suspend'),
      resume: () => {
        calls.push('resume');
        return started;
      },
    } as unknown as StreamIngest,
    stop: () => void (started = false),
  };
}

describe('StoreControl', () => {
  let bus: PulseBus;
  let audits: EventEnvelope<AuditEnvelope>[];
  const action = (payload: Omit<ControlAction, 'ts'>, id = uniqueId('req')) =>
    createEnvelope<ControlAction>(
      'control.ControlAction',
      { ts: Date.now() / 1000, ...payload },
      { id, track: 'v2' },
    );

  beforeEach(() => {
    bus = createEventBus({ backend: 'inmem', namespace: uniqueId(), track: 'v2' });
    audits = [];
    bus.subscribe<AuditEnvelope>(
      { stream: STREAMS.audit, group: 'probe', consumer: 'c', blockMs: 20 },
      (e) => void audits.push(e),
    );
  });
  afterEach(() => bus.close());

  const auditCount = async (n: number) => {
    for (let i = 0; i < 300 && audits.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(audits).toHaveLength(n);
  };

  it('pause and resume of ingest, answered with results carrying the correlation id', async () => {
    const { ingest, calls } = fakeIngest();
    const control = new StoreControl(bus, ingest, { consumer: 'store-1' });
    expect(
      await control.handle(action({ action: 'pause', target: 'store' }, 'req-1')),
    ).toMatchObject({ result: 'ok', detail: expect.stringMatching(/ingest paused/) });
    expect(
      await control.handle(action({ action: 'resume', target: 'store-1' }, 'req-2')),
    ).toMatchObject({ result: 'ok', detail: 'ingest resumed' });
    expect(calls).toEqual(['suspend', 'resume']);
    await auditCount(2);
    expect(audits[0].meta.headers[CORRELATION_HEADER]).toBe('req-1');
    expect(audits[0].meta.headers[OPERATION_HEADER]).toBe('pause');
    expect(audits[0].payload).toMatchObject({
      role: 'store',
      operation: 'pause',
      action: 'pause',
      correlation_id: 'req-1',
      result: { status: 'ok', outcome: 'ok' },
    });
  });

  it("replay_dlq puts a stream's dead letters back onto it", async () => {
    const sub = bus.subscribe(
      { stream: 'md.bars', group: 'store', consumer: 'c', blockMs: 20, maxDeliveries: 1 },
      () => {
        throw new Error('poison');
      },
    );
    await bus.publish('md.bars', createEnvelope('md.Bar', { nope: 1 }));
    for (let i = 0; i < 300 && (await bus.readDeadLetters('md.bars')).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    await sub.close();
    expect(await bus.readDeadLetters('md.bars')).toHaveLength(1);
    const control = new StoreControl(bus, fakeIngest().ingest, { consumer: 'store-1' });
    const outcome = await control.handle(
      action({ action: 'replay_dlq', target: 'stream:md.bars' }),
    );
    expect(outcome).toMatchObject({
      result: 'ok',
      target: 'stream:md.bars',
      detail: expect.stringMatching(/^replayed 1 dead letter of .*md\.bars\.dlq/),
    });
    expect(await bus.readDeadLetters('md.bars')).toHaveLength(0);
  });

  it('refuses what it does not perform, ignores what is aimed elsewhere', async () => {
    const { ingest, calls } = fakeIngest();
    const control = new StoreControl(bus, ingest, { consumer: 'store-1' });
    expect(await control.handle(action({ action: 'reload', target: 'store' }))).toMatchObject({
      result: 'rejected',
      detail: expect.stringMatching(/does not perform "reload"/),
    });
    expect(
      await control.handle(action({ action: 'pause', target: 'stream:md.bars' })),
    ).toMatchObject({ result: 'rejected' });
    expect(await control.handle(action({ action: 'pause', target: 'pipeline' }))).toMatchObject({
      result: 'ignored',
    });
    expect(await control.handle(action({ action: 'pause', target: 'provider:x' }))).toMatchObject({
      result: 'ignored',
    });
    expect(calls).toEqual([]);
    await auditCount(2);
    expect(audits.map((a) => a.payload.result.status)).toEqual(['error', 'error']);
  });
});
