import { createEventBus, InMemoryStreams, type PulseBus } from '../src';
import { InMemoryTransport } from '../src/inmem/inmem-transport';
import { behaviourSuite } from './behaviour';

let world: InMemoryStreams;
let buses: PulseBus[] = [];

behaviourSuite(
  'inmem',
  async () => {
    world = new InMemoryStreams();
    buses = [];
    const namespace = 'mem';
    return {
      namespace,
      bus: (opts = {}) => {
        const bus = createEventBus({ backend: 'inmem', namespace, inmem: world, ...opts });
        buses.push(bus);
        return bus;
      },
      addRaw: async (stream, fields) =>
        (await new InMemoryTransport(world).add(stream, [fields]))[0],
      length: async (stream) =>
        (await new InMemoryTransport(world).range(stream, '-', '+', 1e9)).length,
    };
  },
  async () => {
    await Promise.all(buses.map((b) => b.close()));
  },
);
