import type { FeedbackEvent } from '@mdp/contracts';

export type FeedbackSubscriber = (event: FeedbackEvent) => void | Promise<void>;

export interface FeedbackEmitterLogger {
  warn(obj: object, msg: string): void;
}

/**
 * In-process fan-out of backpressure events. Each subscriber is called independently: one that
 * throws (or rejects) is logged and does not stop the others, and nobody waits for a slow one.
 */
export class FeedbackEmitter {
  private readonly subscribers = new Set<FeedbackSubscriber>();

  constructor(private readonly log?: FeedbackEmitterLogger) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Subscribing the same function twice is a no-op. Returns the matching unsubscribe. */
  subscribe(subscriber: FeedbackSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.unsubscribe(subscriber);
  }

  unsubscribe(subscriber: FeedbackSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  publish(event: FeedbackEvent): void {
    for (const subscriber of [...this.subscribers]) {
      try {
        const out = subscriber(event);
        if (out && typeof (out as Promise<void>).catch === 'function') {
          (out as Promise<void>).catch((err) =>
            this.log?.warn({ err: String(err), level: event.level }, 'feedback subscriber failed'),
          );
        }
      } catch (err) {
        this.log?.warn({ err: String(err), level: event.level }, 'feedback subscriber failed');
      }
    }
  }
}
