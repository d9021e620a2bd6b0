import { randomUUID } from 'node:crypto';
import {
  CONTROL_ACTIONS_V1,
  STREAMS,
  streamSchemaId,
  type ControlAction,
  type ControlOutcome,
} from '@mdp/contracts';
import { createEnvelope, type EventBus } from '@mdp/pulse';
import type { Logger } from '@mdp/service-kit';
import { Counter, Registry } from 'prom-client';
import type { AuditRow } from '../audit/audit-row';
import { AUDIT_HEADERS, type AuditTrail } from '../audit/audit-trail';
import type { ControlRequest } from './control-request';

/** What POST /control answers: the target's ControlResult (v2 form), or `accepted` when it did not answer in time. */
export interface ControlReply {
  /** 200: the target answered; 202: published, no answer within the timeout. */
  http: 200 | 202 | 503;
  body: {
    status: 'ok' | 'error';
    outcome: ControlOutcome;
    detail: string | null;
    action: string;
    target: string;
    correlation_id: string;
    ts: number;
    /** Who answered (the acting consumer), when someone did. */
    answered_by?: string;
  };
}

/** Who is asking and from where, for the audit trail. */
export interface Requester {
  actor: string;
  client: string;
}

/**
 * Sends control actions on `<ns>.control.actions` and waits for the target's result, which comes back
 * as an audit entry with the same correlation id (the action's envelope id). Request, result and
 * refusals are all audited under that id.
 */
export class ControlService {
  private readonly waiting = new Map<string, (row: AuditRow) => void>();
  private readonly counter: Counter<'action' | 'outcome'>;

  constructor(
    private readonly bus: EventBus,
    private readonly trail: AuditTrail,
    private readonly logger: Logger,
    registry: Registry,
    readonly timeoutMs: number,
  ) {
    this.counter = new Counter({
      name: 'orchestrator_control_actions_total',
      help: 'Control API requests by action and outcome (ok, rejected, error, timeout, unauthorized, forbidden, invalid)',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    });
    // Resolved once the result's row is in audit_log, so the answer and the trail agree.
    trail.onAppended((row) => {
      if (row.kind === 'control_result' && row.correlation_id)
        this.waiting.get(row.correlation_id)?.(row);
    });
  }

  async send(req: ControlRequest, who: Requester): Promise<ControlReply> {
    const correlationId = randomUUID();
    const answered = new Promise<AuditRow | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.timeoutMs);
      this.waiting.set(correlationId, (row) => {
        clearTimeout(timer);
        resolve(row);
      });
    });
    const message: ControlAction = {
      action: req.action,
      ts: Date.now() / 1000,
      target: req.target,
      ...(req.provider !== undefined ? { provider: req.provider } : {}),
      ...(req.scale !== undefined ? { scale: req.scale } : {}),
      actor: who.actor,
      correlation_id: correlationId,
      ...(req.reason !== undefined ? { reason: req.reason } : {}),
    };
    // A v1 reader (the core) knows pause | resume | reload only; set_scale and replay_dlq need the v2
    // fields (provider, scale, target), so they always travel on v2.
    const track = (CONTROL_ACTIONS_V1 as readonly string[]).includes(req.action)
      ? this.bus.track
      : 'v2';
    const envelope = createEnvelope(streamSchemaId(STREAMS.control), message, {
      id: correlationId,
      key: req.target,
      track,
      headers: { [AUDIT_HEADERS.correlationId]: correlationId },
    });
    // Audited before it is sent, so the request precedes its result in the trail; a request that could
    // not be audited (logged) is still sent.
    await this.audit(
      this.requestRow(
        req,
        who,
        correlationId,
        'accepted',
        `sending to ${this.bus.streamName(STREAMS.control)}`,
      ),
    ).catch(() => undefined);
    try {
      await this.bus.publish(STREAMS.control, envelope);
    } catch (err) {
      this.waiting.delete(correlationId);
      const detail = `not published to ${this.bus.streamName(STREAMS.control)}: ${(err as Error).message}`;
      await this.audit({
        ...this.requestRow(req, who, correlationId, 'error', detail),
        source_id: `control.unsent:${correlationId}`,
      }).catch(() => undefined);
      this.counter.inc({ action: req.action, outcome: 'error' });
      return {
        http: 503,
        body: {
          status: 'error',
          outcome: 'error',
          detail,
          action: req.action,
          target: req.target,
          correlation_id: correlationId,
          ts: Date.now() / 1000,
        },
      };
    }
    const row = await answered;
    this.waiting.delete(correlationId);
    if (!row) {
      this.counter.inc({ action: req.action, outcome: 'timeout' });
      return {
        http: 202,
        body: {
          status: 'ok',
          outcome: 'accepted',
          detail: `published; no result from ${req.target} within ${this.timeoutMs} ms (it is audited when it comes: GET /audit?correlation_id=${correlationId})`,
          action: req.action,
          target: req.target,
          correlation_id: correlationId,
          ts: Date.now() / 1000,
        },
      };
    }
    const outcome =
      (row.outcome as ControlOutcome | null) ?? (row.status === 'ok' ? 'ok' : 'error');
    this.counter.inc({ action: req.action, outcome });
    return {
      http: 200,
      body: {
        status: row.status,
        outcome,
        detail: row.detail,
        action: req.action,
        target: row.target ?? req.target,
        correlation_id: correlationId,
        ts: row.ts,
        answered_by: row.actor,
      },
    };
  }

  /** Audits a request refused before it was sent (401, 403, 400). */
  async refused(
    action: string,
    who: Requester,
    outcome: 'unauthorized' | 'forbidden' | 'invalid',
    detail: string,
  ): Promise<string> {
    const correlationId = randomUUID();
    this.counter.inc({ action, outcome });
    await this.audit({
      source_id: `control.refused:${correlationId}`,
      kind: 'control_request',
      ts: Date.now() / 1000,
      actor: who.actor,
      role: 'operator',
      action,
      target: null,
      correlation_id: correlationId,
      status: 'error',
      outcome: 'rejected',
      detail,
      attributes: { client: who.client, refused: outcome },
    }).catch(() => undefined);
    return correlationId;
  }

  private requestRow(
    req: ControlRequest,
    who: Requester,
    correlationId: string,
    outcome: 'accepted' | 'error',
    detail: string,
  ): AuditRow {
    const attributes: Record<string, string> = { client: who.client };
    if (req.provider !== undefined) attributes.provider = req.provider;
    if (req.scale !== undefined) attributes.scale = String(req.scale);
    if (req.stream !== undefined) attributes.stream = req.stream;
    if (req.reason !== undefined) attributes.reason = req.reason;
    return {
      source_id: `control.request:${correlationId}`,
      kind: 'control_request',
      ts: Date.now() / 1000,
      actor: who.actor,
      role: 'operator',
      action: req.action,
      target: req.target,
      correlation_id: correlationId,
      status: outcome === 'accepted' ? 'ok' : 'error',
      outcome,
      detail,
      attributes,
    };
  }

  private async audit(row: AuditRow): Promise<void> {
    try {
      await this.trail.record(row);
    } catch (err) {
      this.logger.error(
        { err: (err as Error).message, correlation_id: row.correlation_id },
        'control request not audited',
      );
      throw err;
    }
  }
}
