/**
 * The life of a stream subscription in a service: opened once when the application has started,
 * closed before it shuts down (in-flight handlers finish and are acked; the rest stays pending), and
 * nothing else. Every consumer of the services holds its subscriptions in a `ManagedSubscription`
 * and Nest starts and stops it through `subscriberLifecycle`.
 */
import {
  BeforeApplicationShutdown,
  InjectionToken,
  OnApplicationBootstrap,
  Provider,
} from '@nestjs/common';
import type { Subscription } from '@mdp/pulse';

/** What reads streams for the life of the application. */
export interface StreamSubscriber {
  start(): void;
  stop(): Promise<void>;
}

/** One or more subscriptions opened together and closed together; `start` twice opens them once. */
export class ManagedSubscription implements StreamSubscriber {
  private open?: Subscription[];

  constructor(private readonly subscribe: () => Subscription | Subscription[]) {}

  get running(): boolean {
    return this.open !== undefined;
  }

  start(): void {
    if (this.open) return;
    const subs = this.subscribe();
    this.open = Array.isArray(subs) ? subs : [subs];
  }

  /** Stops reading; in-flight handlers finish and what they finished is acked. */
  async stop(): Promise<void> {
    const subs = this.open ?? [];
    this.open = undefined;
    await Promise.all(subs.map((s) => s.close()));
  }
}

class SubscriberLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly subscriber: StreamSubscriber) {}

  onApplicationBootstrap(): void {
    this.subscriber.start();
  }

  /** Before the bus closes (BusModule closes it on application shutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.subscriber.stop();
  }
}

/** A provider that starts the subscriber under `token` with the application and stops it before shutdown. */
export function subscriberLifecycle(token: InjectionToken): Provider {
  return {
    provide: Symbol(`lifecycle of ${String(typeof token === 'function' ? token.name : token)}`),
    inject: [token],
    useFactory: (subscriber: StreamSubscriber) => new SubscriberLifecycle(subscriber),
  };
}
