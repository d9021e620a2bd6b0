/**
 * Handler composition in the spirit of Watermill's router: a middleware wraps the next handler.
 * The consumer runs its fixed stages around the handler (`stages.ts`: size cap, decode, schema check,
 * dedup, settle, metrics); user middleware wraps the application handler inside the handler stage.
 */
import { sleep as pause } from './sleep';
import type { BatchHandler, Delivery, MessageHandler, MessageMiddleware } from './types';

/** `compose(a, b)(h)` = `a(b(h))`: the first middleware is the outermost. */
export function compose<H>(...middleware: Array<(next: H) => H>): (handler: H) => H {
  return (handler) => middleware.reduceRight((next, mw) => mw(next), handler);
}

/** Runs a per-message handler over a batch in order: resolve = ack, throw = fail(message). */
export function perMessage<T>(handler: MessageHandler<T>): BatchHandler<T> {
  return async (batch: Delivery<T>[]) => {
    for (let i = 0; i < batch.length; i++) {
      const delivery = batch[i];
      try {
        const done = handler(delivery.envelope, delivery);
        // No microtask hop for synchronous handlers: this loop is the hot path.
        if (done && typeof (done as Promise<void>).then === 'function') await done;
        delivery.ack();
      } catch (err) {
        delivery.fail(errorMessage(err));
      }
    }
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface RetryOptions {
  /** Total attempts in process, including the first. Default 3. */
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Whether an error is worth retrying; default: all. */
  retryable?: (err: unknown) => boolean;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Retries the handler with exponential backoff (and jitter) before the delivery counts as failed. */
export function retry<T = unknown>(opts: RetryOptions = {}): MessageMiddleware<T> {
  const attempts = Math.max(1, opts.attempts ?? 3);
  const initial = opts.initialDelayMs ?? 50;
  const max = opts.maxDelayMs ?? 2000;
  const factor = opts.factor ?? 2;
  const sleep = opts.sleep ?? pause;
  return (next) => async (envelope, delivery) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(envelope, delivery);
      } catch (err) {
        if (attempt >= attempts || (opts.retryable && !opts.retryable(err))) throw err;
        const base = Math.min(max, initial * factor ** (attempt - 1));
        await sleep(Math.round(base * (0.5 + Math.random() * 0.5)));
      }
    }
  };
}

/** Fails a message whose handler takes longer than `ms` (the handler itself is not cancelled). */
export function timeout<T = unknown>(ms: number): MessageMiddleware<T> {
  return (next) => (envelope, delivery) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`handler timed out after ${ms} ms`)), ms);
      Promise.resolve(next(envelope, delivery)).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
}
