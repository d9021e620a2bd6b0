import { decodePayload, type EventEnvelope, type HealthStatus } from '@mdp/contracts';
import { createEventBus, type EventBus } from '@mdp/pulse';
import { uniqueId } from '@mdp/testing';
import { HealthRegistry } from '../src/health';
import { STREAMS } from '@mdp/contracts';
import { HEARTBEAT_HEADERS, HeartbeatPublisher } from '../src/heartbeat';

async function received(bus: EventBus, n: number): Promise<EventEnvelope<HealthStatus>[]> {
  const seen: EventEnvelope<HealthStatus>[] = [];
  const sub = bus.subscribe<HealthStatus>(
    { stream: STREAMS.health, group: 'probe', consumer: 'c', blockMs: 20 },
    (e) => void seen.push(e),
  );
  for (let i = 0; i < 300 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  await sub.close();
  return seen;
}

describe('HeartbeatPublisher', () => {
  const health = new HealthRegistry('store', '1.2.3');
  health.register('database', () => ({ state: 'degraded', details: { reason: 'slow' } }));

  it('publishes the service HealthStatus with its node id and interval in the headers, every interval', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId(), track: 'v2' });
    const beat = new HeartbeatPublisher(bus, health, { intervalMs: 100, nodeId: 'store-a' });
    beat.start();
    const seen = await received(bus, 3);
    beat.stop();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    const first = seen[0];
    expect(first.meta).toMatchObject({
      schema_id: 'telemetry.HealthStatus',
      track: 'v2',
      headers: { [HEARTBEAT_HEADERS.nodeId]: 'store-a', [HEARTBEAT_HEADERS.intervalMs]: '100' },
    });
    expect(first.payload).toMatchObject({
      service: 'store',
      version: '1.2.3',
      state: 'degraded',
      ready: true,
    });
    expect(first.payload.uptime_s).toBeGreaterThanOrEqual(0);
    expect(decodePayload('telemetry.HealthStatus', 'v2', first.payload).ok).toBe(true);
    await bus.close();
  });

  it('on v1 sends only what the core HealthStatus has', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId(), track: 'v1' });
    expect(await new HeartbeatPublisher(bus, health).beat()).toBe(true);
    const [e] = await received(bus, 1);
    expect(Object.keys(e.payload).sort()).toEqual([
      'components',
      'service',
      'state',
      'ts',
      'version',
    ]);
    expect(e.meta.headers[HEARTBEAT_HEADERS.nodeId]).toMatch(/^store@.+:\d+$/);
    await bus.close();
  });

  it('a beat that cannot be published is reported, not thrown', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId() });
    await bus.close();
    const errors: Error[] = [];
    expect(
      await new HeartbeatPublisher(bus, health, { onError: (e) => errors.push(e) }).beat(),
    ).toBe(false);
    expect(errors[0].message).toMatch(/closed/);
  });
});
