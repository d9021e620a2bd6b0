import Redis from 'ioredis';
import { deleteRedisPrefix, describeWithRedis, redisUrl, uniqueId } from '@mdp/testing';
import { createEventBus, type PulseBus } from '../src';
import { behaviourSuite } from './behaviour';

describeWithRedis('redis backend', () => {
  let raw: Redis;
  let namespace: string;
  let buses: PulseBus[] = [];

  beforeAll(() => {
    raw = new Redis(redisUrl());
  });
  afterAll(async () => {
    await raw.quit();
  });

  behaviourSuite(
    'redis',
    async () => {
      namespace = uniqueId('pulse');
      buses = [];
      return {
        namespace,
        bus: (opts = {}) => {
          const bus = createEventBus({
            backend: 'redis',
            redisUrl: redisUrl(),
            namespace,
            clientName: namespace,
            ...opts,
          });
          buses.push(bus);
          return bus;
        },
        addRaw: async (stream, fields) => (await raw.xadd(stream, '*', ...fields)) as string,
        length: (stream) => raw.xlen(stream),
      };
    },
    async () => {
      await Promise.all(buses.map((b) => b.close()));
      await deleteRedisPrefix(raw, namespace);
      await deleteRedisPrefix(raw, `{${namespace}`);
    },
  );
});
