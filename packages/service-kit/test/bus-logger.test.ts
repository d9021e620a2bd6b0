/**
 * The service's logger reaches Pulse: a Redis outage under a connected bus shows in the service's
 * log as one warn line with its cause and one info line when Redis is back.
 */
import pino from 'pino';
import { Writable } from 'stream';
import { describeWithRedis, RedisServer, stopAll, uniqueId } from '@mdp/testing';
import { connectBus } from '../src/bus';
import { parseEnv, SharedEnv } from '../src/config';

function capturedLogger() {
  const records: Array<{ level: number; msg: string; err?: unknown }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) records.push(JSON.parse(line));
      done();
    },
  });
  return { records, logger: pino({ level: 'info' }, sink) };
}

describeWithRedis('connectBus hands the service logger to Pulse', () => {
  afterEach(() => stopAll());

  it('a Redis outage is one warn with its cause and one info at recovery in the service log', async () => {
    const server = await RedisServer.start();
    const { records, logger } = capturedLogger();
    const env = parseEnv(SharedEnv, {
      MD_NAMESPACE: uniqueId(),
      EVENT_BUS_BACKEND: 'redis',
      REDIS_URL: server.url,
    });
    const conn = await connectBus(env, { logger });
    try {
      expect(conn.mode).toBe('redis');
      const sub = conn.bus.subscribe(
        { stream: 'probe', group: 'g', consumer: 'c', blockMs: 50 },
        () => undefined,
      );
      await new Promise((r) => setTimeout(r, 300));
      const mark = records.length;
      await server.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
      await server.start();
      for (let i = 0; i < 500 && !records.slice(mark).some((r) => r.level === 30); i++)
        await new Promise((r) => setTimeout(r, 20));
      const outage = records.slice(mark).filter((r) => /Redis/.test(r.msg));
      expect(outage.map((r) => [r.level, r.msg])).toEqual([
        [40, 'pulse: Redis unavailable; publishing and consuming keep retrying'],
        [30, 'pulse: Redis available again'],
      ]);
      expect(outage[0].err).toEqual(expect.any(String));
      await sub.close();
    } finally {
      await conn.bus.close();
    }
  }, 30_000);
});
