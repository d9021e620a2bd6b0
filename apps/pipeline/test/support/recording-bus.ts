import type { EventEnvelope } from '@mdp/contracts';
import type { EventBus } from '@mdp/pulse';

/** Publish-side test double: records batches, can be told to fail the next N publishes or to hold them. */
export class RecordingBus implements Pick<
  EventBus,
  'backend' | 'namespace' | 'track' | 'streamName' | 'publish' | 'publishBatch'
> {
  readonly backend = 'inmem' as const;
  readonly namespace = 'test';
  readonly batches: Array<{ stream: string; envelopes: EventEnvelope[] }> = [];
  failNext = 0;
  /** While set, publishes wait for it (a slow Redis). */
  gate?: Promise<void>;

  constructor(readonly track: 'v1' | 'v2' = 'v1') {}

  streamName(stream: string): string {
    return `${this.namespace}.${stream}`;
  }

  async publish<T>(stream: string, envelope: EventEnvelope<T>): Promise<string> {
    return (await this.publishBatch(stream, [envelope]))[0];
  }

  async publishBatch<T>(stream: string, envelopes: EventEnvelope<T>[]): Promise<string[]> {
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('redis down');
    }
    this.batches.push({ stream, envelopes: envelopes as EventEnvelope[] });
    return envelopes.map((_, i) => `${this.batches.length}-${i}`);
  }

  published(stream = 'md.bars'): EventEnvelope[] {
    return this.batches.filter((b) => b.stream === stream).flatMap((b) => b.envelopes);
  }

  asBus(): EventBus {
    return this as unknown as EventBus;
  }
}
