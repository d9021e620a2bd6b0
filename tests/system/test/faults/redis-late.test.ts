/**
 * Redis down while the services start. Asked for EVENT_BUS_BACKEND=redis, a service must never run
 * on another bus: /ready answers 503 with the `bus` component unhealthy until Redis answers, then the
 * services connect, create their groups and work; every bar published once Redis is up is persisted.
 */
import { delay, describeWithPostgres, RedisServer } from '@mdp/testing';
import { expectEveryBarOnce, report, useSystem } from '../support/system';

const BARS = 3_000;
const RATE = 1_000;

describeWithPostgres('Redis down while the services start', () => {
  const newSystem = useSystem();

  it('is not ready until Redis answers, then works', async () => {
    const server = await RedisServer.create();
    const s = await newSystem(server.url);
    const { store, pipeline } = await s.startStoreAndPipeline({
      bars: BARS,
      rate: RATE,
      pipeline: { PIPELINE_RETRY_MAX_MS: '2000' },
      ready: false,
    });

    // Both answer HTTP, and both say they are not ready, for as long as Redis is away.
    const logs = () => [store.output(10), pipeline.output(10)].join('\n');
    const answered = async (p: typeof store) => {
      for (let i = 0; i < 100 && (await p.endpoint.readyStatus()) === 0; i++) await delay(100);
      return p.endpoint.readyStatus();
    };
    expect([await answered(store), await answered(pipeline)]).toEqual([503, 503]);
    for (const p of [store, pipeline]) {
      const bus = (await p.endpoint.health()).body.components.find((c) => c.name === 'bus');
      expect({ service: p.name, bus: bus?.state }).toEqual({ service: p.name, bus: 'unhealthy' });
    }
    await delay(3000);
    expect([await store.endpoint.readyStatus(), await pipeline.endpoint.readyStatus()]).toEqual([
      503, 503,
    ]);
    expect([store.running, pipeline.running]).toEqual([true, true]);

    await server.start();
    await store.waitReady(30_000);
    await pipeline.waitReady(30_000);
    await s.waitPersisted(BARS, 60_000, logs);

    const o = await s.outcome();
    report('redis down at start', o.figures);
    expectEveryBarOnce(o, BARS);
    expect(o.handledTwice).toBe(0);
  });
});
