import type { DeadLetter, PulseBus } from '@mdp/pulse';
import type { Logger } from '@mdp/service-kit';
import type { StreamInfo } from '../cluster/bus-inspector';
import type { AuditTrail } from './audit-trail';

const PAGE = 1000;
const TOP_REASONS = 5;

/** Latest reasons per stream for the cockpit (what, not the payload). */
export interface DeadLetterSummary {
  stream: string;
  dlq_length: number;
  latest: Array<{ reason: string; failed_at: number; group: string }>;
}

/**
 * Audits dead letters appearing on any `<stream>.dlq`: per stream and check, one row with how many
 * arrived and why (reasons with counts, never the payload). Each dead letter is counted once by its
 * source entry (a redelivered poison entry dead-lettered again is not new), and the watch resumes
 * after the last DLQ entry recorded in `audit_log`, so a restart neither repeats nor skips entries.
 */
export class DeadLetterAudit {
  private cursors?: Map<string, string>;
  private readonly latest = new Map<string, DeadLetterSummary['latest']>();

  constructor(
    private readonly bus: PulseBus,
    private readonly trail: AuditTrail,
    private readonly logger: Logger,
  ) {}

  /** Checks the DLQs of `streams` (from the inspector) for entries not audited yet. */
  async check(streams: StreamInfo[]): Promise<void> {
    if (!this.cursors) this.cursors = await this.trail.store.deadLetterCursors();
    for (const s of streams) {
      if (!s.dlq_length) continue;
      try {
        await this.checkStream(s.name);
      } catch (err) {
        this.logger.warn(
          { err: (err as Error).message, stream: s.name },
          'dead-letter audit failed; retrying at the next check',
        );
      }
    }
  }

  summaries(streams: StreamInfo[]): DeadLetterSummary[] {
    return streams
      .filter((s) => s.dlq_length)
      .map((s) => ({
        stream: s.name,
        dlq_length: s.dlq_length ?? 0,
        latest: this.latest.get(s.name) ?? [],
      }));
  }

  private async checkStream(stream: string): Promise<void> {
    for (;;) {
      const after = this.cursors!.get(stream);
      const page = await this.bus.readDeadLetters(stream, {
        count: PAGE,
        ...(after ? { after } : {}),
      });
      if (page.length === 0) return;
      const last = page[page.length - 1];
      // A source entry dead-lettered again (redelivered poison) is the same dead letter: counted once.
      const keyOf = (dl: DeadLetter) =>
        dl.sourceEntryId
          ? `${dl.sourceStream}:${dl.sourceEntryId}`
          : `${dl.dlqStream}:${dl.dlqEntryId}`;
      await this.trail.recordDeadLetters(page.map(keyOf), (fresh) => {
        const news = page.filter((dl) => fresh.has(keyOf(dl)));
        if (news.length === 0) return undefined;
        const reasons = new Map<string, number>();
        for (const dl of news)
          reasons.set(
            dl.reason || '(no reason)',
            (reasons.get(dl.reason || '(no reason)') ?? 0) + 1,
          );
        const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, TOP_REASONS);
        const newest = news[news.length - 1];
        return {
          source_id: `dlq:${last.dlqStream}:${last.dlqEntryId}`,
          kind: 'dead_letter',
          ts: newest.failedAt || Date.now() / 1000,
          actor: newest.consumer || 'pulse',
          role: newest.group || 'pulse',
          action: 'dlq.entries',
          target: stream,
          correlation_id: null,
          status: 'error',
          outcome: null,
          detail: `${news.length} dead letter${news.length === 1 ? '' : 's'} on ${last.dlqStream}: ${top.map(([r, n]) => `${r} (${n})`).join('; ')}`,
          attributes: {
            count: String(news.length),
            dlq_stream: last.dlqStream,
            first_entry_id: page[0].dlqEntryId,
            last_entry_id: last.dlqEntryId,
            latest_reason: newest.reason,
            reasons: JSON.stringify(Object.fromEntries(top)),
          },
        };
      });
      this.cursors!.set(stream, last.dlqEntryId);
      const recent = page
        .slice(-5)
        .reverse()
        .map((dl) => ({ reason: dl.reason, failed_at: dl.failedAt, group: dl.group }));
      this.latest.set(stream, [...recent, ...(this.latest.get(stream) ?? [])].slice(0, 5));
      if (page.length < PAGE) return;
    }
  }
}
