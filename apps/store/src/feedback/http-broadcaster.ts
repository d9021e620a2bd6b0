import type { FeedbackEvent } from '@mdp/contracts';
import { sleep } from '@mdp/pulse';

export interface HttpBroadcasterOptions {
  endpoint: string;
  timeoutMs?: number;
  maxRetries?: number;
  backoffMs?: number;
  /** Events waiting to be sent; the oldest is discarded when full (feedback is advisory, the latest matters). */
  maxPending?: number;
  fetch?: typeof fetch;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * POSTs feedback events to a webhook from a background loop. `send` only enqueues, so the write
 * path never waits on the network; failed posts are retried with exponential backoff.
 */
export class HttpFeedbackBroadcaster {
  private readonly pending: FeedbackEvent[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  sent = 0;
  failed = 0;
  discarded = 0;

  constructor(private readonly opts: HttpBroadcasterOptions) {}

  readonly send = (event: FeedbackEvent): void => {
    if (this.stopped) return;
    this.pending.push(event);
    const max = this.opts.maxPending ?? 100;
    while (this.pending.length > max) {
      this.pending.shift();
      this.discarded++;
    }
    if (!this.running) this.running = this.drain().finally(() => (this.running = undefined));
  };

  /** Stops accepting events, abandons queued ones and cancels a post or backoff in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.discarded += this.pending.splice(0).length;
    this.abort.abort();
    await this.running;
  }

  /** Resolves when the queue is empty (tests). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    const doFetch = this.opts.fetch ?? fetch;
    for (let event = this.pending.shift(); event; event = this.pending.shift()) {
      const retries = this.opts.maxRetries ?? 3;
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await doFetch(this.opts.endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(event),
            signal: AbortSignal.any([
              AbortSignal.timeout(this.opts.timeoutMs ?? 2500),
              this.abort.signal,
            ]),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          this.sent++;
          break;
        } catch (err) {
          if (attempt >= retries || this.stopped) {
            this.failed++;
            this.opts.log?.warn(
              { err: String(err), endpoint: this.opts.endpoint, level: event.level },
              'feedback webhook failed',
            );
            break;
          }
          await sleep((this.opts.backoffMs ?? 500) * 2 ** attempt, this.abort.signal);
        }
      }
    }
  }
}
