import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ManagedSubscription, subscriberLifecycle, type StreamSubscriber } from '../src';

describe('ManagedSubscription', () => {
  it('opens its subscriptions once however often it is started, and closes them all on stop', async () => {
    const closed: string[] = [];
    let opened = 0;
    const reading = new ManagedSubscription(() => {
      opened++;
      return ['a', 'b'].map((name) => ({
        stopReading: async () => undefined,
        close: async () => void closed.push(name),
      }));
    });
    expect(reading.running).toBe(false);
    reading.start();
    reading.start();
    expect(opened).toBe(1);
    expect(reading.running).toBe(true);
    await reading.stop();
    expect(closed).toEqual(['a', 'b']);
    expect(reading.running).toBe(false);
    await reading.stop();
    expect(closed).toEqual(['a', 'b']);
  });
});

describe('subscriberLifecycle', () => {
  it('starts the subscriber with the application and stops it before shutdown', async () => {
    const events: string[] = [];
    class Reader implements StreamSubscriber {
      start() {
        events.push('start');
      }
      async stop() {
        events.push('stop');
      }
    }
    @Module({ providers: [Reader, subscriberLifecycle(Reader)] })
    class ReaderModule {}
    const app = (
      await Test.createTestingModule({ imports: [ReaderModule] }).compile()
    ).createNestApplication();
    await app.init();
    expect(events).toEqual(['start']);
    await app.close();
    expect(events).toEqual(['start', 'stop']);
  });
});
