/**
 * One delivery handed to a handler. Settling it (once; later calls are ignored) hands it back to the
 * consumer that holds it, which runs the settle stage (see `stages.ts`).
 */
import type { EventEnvelope } from '@mdp/contracts';
import type { Delivery } from './types';

export type Settlement = 'ack' | 'fail' | 'deadLetter';

/** What a delivery is settled with: the consumer holding it. */
export interface Holder {
  settled(d: PulseDelivery<unknown>, how: Settlement, reason: string): void;
}

/** Deliveries handed to the handler together; `open` counts the unsettled ones. */
export interface HeldBatch {
  physical: string;
  deliveries: PulseDelivery<unknown>[];
  open: number;
}

export class PulseDelivery<T> implements Delivery<T> {
  settled = false;
  held?: HeldBatch;
  constructor(
    readonly envelope: EventEnvelope<T>,
    readonly stream: string,
    readonly entryId: string,
    readonly deliveryCount: number,
    readonly physical: string,
    private readonly holder: Holder,
  ) {}

  ack(): void {
    this.settle('ack', '');
  }

  fail(reason: string): void {
    this.settle('fail', reason);
  }

  deadLetter(reason: string): void {
    this.settle('deadLetter', reason);
  }

  private settle(how: Settlement, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.holder.settled(this as PulseDelivery<unknown>, how, reason);
  }
}
