/**
 * Idempotency: an envelope id already handled is dropped (acked, counted `duplicate`). An id is
 * marked handled when its delivery is acked, and the mark is made durable before the XACK is sent,
 * so a consumer that dies between the two leaves a pending entry that the next consumer recognises.
 */
import { RecentIds } from './recent-ids';
import type { Transport } from './transport';

export interface IdempotencyStore {
  /** For each id: already handled? */
  seen(ids: string[]): boolean[] | Promise<boolean[]>;
  /** Records a handled id (may buffer until `flush`). */
  mark(id: string): void;
  /** Makes buffered marks durable. */
  flush(): Promise<void>;
}

/**
 * The last `max` handled ids in process (default 10,000; `RecentIds`: no per-id objects, so it adds
 * nothing to the garbage collector's work): cheap, per process, lost on restart.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly recent: RecentIds;

  constructor(max = 10_000) {
    if (!(max >= 1)) throw new RangeError(`idempotency cache size must be >= 1, got ${max}`);
    this.recent = new RecentIds(Math.floor(max));
  }

  seen(ids: string[]): boolean[] {
    const out = new Array<boolean>(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = this.recent.has(ids[i]);
    return out;
  }

  mark(id: string): void {
    this.recent.add(id);
  }

  async flush(): Promise<void> {}
}

/**
 * Shared store (Redis `SET key 1 NX EX ttl`, read with one MGET-like round trip per batch): holds
 * across restarts and between instances. Marks are buffered and written in one pipeline.
 */
export class SharedIdempotencyStore implements IdempotencyStore {
  private buffered: string[] = [];
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly transport: Transport,
    private readonly prefix: string,
    private readonly ttlSec = 7 * 24 * 3600,
    /** Also keeps a local memory so repeated ids in one process skip the round trip. */
    private readonly local = new MemoryIdempotencyStore(),
  ) {}

  async seen(ids: string[]): Promise<boolean[]> {
    const local = this.local.seen(ids);
    const ask = ids.filter((_, i) => !local[i]);
    if (!ask.length) return local;
    const remote = await this.transport.existKeys(ask.map((id) => this.prefix + id));
    let j = 0;
    return local.map((hit) => hit || remote[j++]);
  }

  mark(id: string): void {
    this.local.mark(id);
    this.buffered.push(id);
    // Marks made in one tick go out in one pipeline, without waiting for the batch's XACK.
    if (this.buffered.length === 1) setImmediate(() => void this.flush().catch(() => undefined));
  }

  flush(): Promise<void> {
    if (this.buffered.length) {
      const ids = this.buffered;
      this.buffered = [];
      this.inflight = this.inflight
        .catch(() => undefined)
        .then(() =>
          this.transport.markKeys(
            ids.map((id) => this.prefix + id),
            this.ttlSec,
          ),
        )
        .catch((err) => {
          this.buffered.unshift(...ids);
          throw err;
        });
    }
    return this.inflight;
  }
}
