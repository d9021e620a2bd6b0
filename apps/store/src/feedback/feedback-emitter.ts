import type { FeedbackEvent } from '@mdp/contracts';
import { OutageLog, type PulseLogger } from '@mdp/pulse';

export type FeedbackSubscriber = (event: FeedbackEvent) => void | Promise<void>;

export type FeedbackEmitterLogger = PulseLogger;

/**
 * In-process fan-out of backpressure events. Each subscriber is called independently: one that
 * throws (or rejects) is logged and does not stop the others, and nobody waits for a slow one.
 * A subscriber failing over and over (the Pulse publisher while Redis is away, refreshed every
 * 500 ms) is one warn line when it starts failing and one info line when it delivers again.
 */
export class FeedbackEmitter {
  private readonly subscribers = new Map<FeedbackSubscriber, OutageLog>();

  constructor(private readonly log?: FeedbackEmitterLogger) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Subscribing the same function twice is a no-op. Returns the matching unsubscribe. */
  subscribe(subscriber: FeedbackSubscriber): () => void {
    if (!this.subscribers.has(subscriber))
      this.subscribers.set(
        subscriber,
        new OutageLog(this.log, {
          down: 'feedback subscriber failed; events are not delivered to it until it recovers',
          up: 'feedback subscriber delivering again',
        }),
      );
    return () => this.unsubscribe(subscriber);
  }

  unsubscribe(subscriber: FeedbackSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  publish(event: FeedbackEvent): void {
    for (const [subscriber, outage] of [...this.subscribers]) {
      const failed = (err: unknown) => outage.failed(err, { level: event.level });
      try {
        const out = subscriber(event);
        if (out && typeof (out as Promise<void>).then === 'function')
          (out as Promise<void>).then(() => outage.succeeded(), failed);
        else outage.succeeded();
      } catch (err) {
        failed(err);
      }
    }
  }
}
