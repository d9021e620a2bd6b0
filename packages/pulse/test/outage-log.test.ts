/**
 * An outage is two log lines: warn with its cause when it starts, info when it ends; never one per
 * retry. Unit-tested with a captured logger, then end to end with a private redis-server killed
 * and restarted under a consuming bus.
 */
import { RedisServer, stopAll } from '@mdp/testing';
import { createEventBus, OutageLog, type PulseBus } from '../src';
import { barEnvelope, waitFor } from './helpers';

interface Line {
  level: 'warn' | 'error' | 'info';
  obj: Record<string, unknown>;
  msg?: string;
}

function capture() {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (obj: object, msg?: string) =>
    void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, logger: { warn: at('warn'), error: at('error'), info: at('info') } };
}

describe('OutageLog', () => {
  it('logs the start of an outage once with its cause and its end once at info', () => {
    const { lines, logger } = capture();
    const log = new OutageLog(logger, { down: 'thing down', up: 'thing back' }, { who: 'x' });
    log.succeeded();
    expect(lines).toEqual([]);
    log.failed(new Error('connect ECONNREFUSED 127.0.0.1:1'));
    log.failed(new Error('connect ECONNREFUSED 127.0.0.1:1'));
    log.failed(new Error('another error'));
    expect(log.down).toBe(true);
    log.succeeded();
    log.succeeded();
    expect(log.down).toBe(false);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'thing down'],
      ['info', 'thing back'],
    ]);
    expect(lines[0].obj).toMatchObject({ who: 'x', err: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(lines[1].obj).toMatchObject({ who: 'x', failures: 3, down_ms: expect.any(Number) });
    // A second outage is logged again.
    log.failed('timeout');
    log.succeeded();
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info', 'warn', 'info']);
    expect(lines[2].obj.err).toBe('timeout');
  });
});

describe('OutageLog with several sources', () => {
  it('ends the outage only once every source that failed has succeeded (or was forgotten)', () => {
    const { lines, logger } = capture();
    const log = new OutageLog(logger, { down: 'down', up: 'up' });
    const [a, b, c] = [{}, {}, {}];
    log.failed(new Error('x'), {}, a);
    log.failed(new Error('x'), {}, b);
    log.failed(new Error('x'), {}, c);
    log.succeeded({}, a); // b and c still fail
    log.failed(new Error('x'), {}, a);
    log.succeeded({}, a);
    log.succeeded({}, b);
    expect(lines.map((l) => l.msg)).toEqual(['down']);
    log.forget(c); // closed while failing
    log.succeeded({}, a);
    expect(lines.map((l) => l.msg)).toEqual(['down', 'up']);
  });
});

describe('a bus whose Redis goes away and comes back', () => {
  let bus: PulseBus | undefined;
  afterEach(async () => {
    bus?.disconnect();
    bus = undefined;
    await stopAll();
  });

  it('logs one warn with the cause at the start and one info at recovery, for its publishing and all its consumers', async () => {
    const server = await RedisServer.start();
    const { lines, logger } = capture();
    const b = createEventBus({
      backend: 'redis',
      redisUrl: server.url,
      namespace: 'outage',
      logger,
    });
    bus = b;
    const got: string[] = [];
    for (const consumer of ['c1', 'c2'])
      b.subscribe(
        { stream: 'md.bars', group: `g-${consumer}`, consumer, blockMs: 50 },
        (env) => void got.push(env.id),
      );
    await b.publish('md.bars', barEnvelope(1));
    await waitFor(() => got.length === 2, 'first bar consumed by both groups');

    await server.kill('SIGKILL');
    // Long enough for the consumers to fail and back off several times.
    await new Promise((r) => setTimeout(r, 2500));
    await server.start();
    await waitFor(
      async () => {
        try {
          await b.publish('md.bars', barEnvelope(2));
          return true;
        } catch {
          return false;
        }
      },
      'publishing again',
      20_000,
    );
    await waitFor(() => got.length >= 4, 'bars consumed after the restart', 20_000);
    await waitFor(() => lines.some((l) => l.level === 'info'), 'recovery logged', 5_000).catch(
      () => undefined,
    );

    const outage = lines.filter((l) => l.level !== 'info' || /Redis/.test(l.msg ?? ''));
    expect(outage.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'pulse: Redis unavailable; publishing and consuming keep retrying'],
      ['info', 'pulse: Redis available again'],
    ]);
    expect(String(outage[0].obj.err)).not.toBe('');
  }, 60_000);
});
