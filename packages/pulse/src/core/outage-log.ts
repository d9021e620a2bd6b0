import type { PulseLogger } from './types';

export interface OutageMessages {
  /** Logged at `downLevel` (default warn), with the cause, when the first failure arrives. */
  down: string;
  downLevel?: 'warn' | 'error';
  /** Logged at info, with how long it lasted, at the first success after failures. */
  up: string;
}

/**
 * One log line when an outage starts (warn, with its cause) and one when it ends (info, with its
 * duration), however many retries fail in between: a Redis or database outage reads as two lines in
 * the log instead of one per attempt, and is still impossible to miss.
 *
 * Several parts may report to one log (a bus's consumers and its publishing), each as a `source`:
 * the outage ends when every source that failed has succeeded again (or was `forget`-ten), so one
 * part recovering first does not end it while another still fails.
 */
export class OutageLog {
  private downSince?: number;
  private failures = 0;
  private readonly failing = new Set<unknown>();

  constructor(
    private readonly logger: PulseLogger | undefined,
    private readonly messages: OutageMessages,
    private readonly context: Record<string, unknown> = {},
  ) {}

  /** Whether an outage is under way (a failure with no success since). */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  failed(err: unknown, detail: Record<string, unknown> = {}, source: unknown = this): void {
    this.failures++;
    this.failing.add(source);
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.logger?.[this.messages.downLevel ?? 'warn'](
      { ...this.context, ...detail, err: causeOf(err) },
      this.messages.down,
    );
  }

  succeeded(detail: Record<string, unknown> = {}, source: unknown = this): void {
    if (this.downSince === undefined) return;
    this.failing.delete(source);
    if (this.failing.size) return;
    const downMs = Date.now() - this.downSince;
    const failures = this.failures;
    this.downSince = undefined;
    this.failures = 0;
    const line = { ...this.context, ...detail, down_ms: downMs, failures };
    if (this.logger?.info) this.logger.info(line, this.messages.up);
    else this.logger?.warn(line, this.messages.up);
  }

  /** A source that stopped (a closed consumer): it no longer holds an outage open. */
  forget(source: unknown): void {
    this.failing.delete(source);
  }
}

export function causeOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
