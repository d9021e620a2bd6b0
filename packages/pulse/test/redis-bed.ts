/**
 * What the Redis test files share: one raw ioredis connection, a fresh namespace per test, the buses
 * (and other closables) a test opens, closed and their keys deleted after each test. Call it at the
 * top of a `describeWithRedis` block.
 */
import Redis from 'ioredis';
import { deleteRedisPrefix, redisUrl, uniqueId } from '@mdp/testing';
import { createEventBus, type EventBusOptions, type PulseBus } from '../src';

export interface RedisBed {
  /** The raw connection (valid inside tests). */
  raw: Redis;
  /** This test's namespace (key prefix). */
  ns: string;
  /** A redis bus in this test's namespace, closed after the test. */
  bus(opts?: Partial<EventBusOptions>): PulseBus;
  /** Closed after the test, before the buses (e.g. a bridge that uses them). */
  closeAfter<T extends { close(): Promise<void> }>(closable: T): T;
}

export function redisBed(prefix: string): RedisBed {
  let closables: Array<{ close(): Promise<void> }> = [];
  let buses: PulseBus[] = [];
  const bed: RedisBed = {
    raw: undefined as unknown as Redis,
    ns: '',
    bus(opts = {}) {
      const b = createEventBus({
        backend: 'redis',
        redisUrl: redisUrl(),
        namespace: bed.ns,
        clientName: bed.ns,
        ...opts,
      });
      buses.push(b);
      return b;
    },
    closeAfter(closable) {
      closables.push(closable);
      return closable;
    },
  };
  beforeAll(() => {
    bed.raw = new Redis(redisUrl());
  });
  afterAll(async () => {
    await bed.raw.quit();
  });
  beforeEach(() => {
    bed.ns = uniqueId(prefix);
    closables = [];
    buses = [];
  });
  afterEach(async () => {
    await Promise.all(closables.map((c) => c.close()));
    await Promise.all(buses.map((b) => b.close()));
    await deleteRedisPrefix(bed.raw, bed.ns);
  });
  return bed;
}
