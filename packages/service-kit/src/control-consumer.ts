import {
  auditEntry,
  controlResult,
  STREAMS,
  streamSchemaId,
  streamSchemaIds,
  type ControlAction,
  type EventEnvelope,
} from '@mdp/contracts';
import { envelopeFor, type EventBus } from '@mdp/pulse';
import { ManagedSubscription, type StreamSubscriber } from './subscription';
import type { Logger } from 'pino';

/**
 * Envelope header carrying the request's correlation id on an answer. The core's v1 AuditEnvelope has
 * no correlation field; the header lets a v1 answer find its request too.
 */
export const CORRELATION_HEADER = 'correlation_id';
/** Envelope header carrying the audited verb (`set_scale`, ...), which a v1 entry can only call `reload`. */
export const OPERATION_HEADER = 'operation';

/** What a service did with an action aimed at it: performed, refused, or failed while performing. */
export interface PerformedAction {
  result: 'ok' | 'rejected' | 'error';
  detail: string;
  target: string;
}
export type HandledAction = PerformedAction | { result: 'ignored'; detail: string; target: string };

export interface ControlConsumerOptions {
  consumer: string;
  /** Default: the service's role. */
  group?: string;
  maxDeliveries?: number;
  idempotency?: 'memory' | 'shared';
  blockMs?: number;
  /**
   * Where a new group starts. Default `$` (only actions sent from now on): on a first deployment, an
   * old pause lying in the stream must not be replayed. Later restarts resume from the group's position.
   */
  startFrom?: '0' | '$';
  /** Redeliver a failed (unacked) message after it has been idle this long. */
  minIdleMs?: number;
  logger?: Logger;
}

/**
 * Orchestrator control over Pulse (`<ns>.control.actions`), the part every service shares: reads the
 * actions as the service's group, keeps those aimed at it (`target` = its role, its consumer name, or
 * what `aimsAt` accepts; no target = everyone), lets the service `perform` them, and answers each one
 * with an audit entry on `<ns>.telemetry.audit` carrying the result and the request's correlation id,
 * refusals included, so the operator always learns what happened.
 */
export abstract class ControlActionConsumer implements StreamSubscriber {
  private readonly reading = new ManagedSubscription(() =>
    this.bus.subscribe<ControlAction>(
      {
        stream: STREAMS.control,
        schemaIds: streamSchemaIds(STREAMS.control),
        group: this.opts.group ?? this.role,
        consumer: this.opts.consumer,
        maxDeliveries: this.opts.maxDeliveries ?? 5,
        idempotency: this.opts.idempotency ?? 'memory',
        blockMs: this.opts.blockMs,
        minIdleMs: this.opts.minIdleMs,
        startFrom: this.opts.startFrom ?? '$',
      },
      (envelope) => this.handle(envelope).then(() => undefined),
    ),
  );

  constructor(
    protected readonly bus: EventBus,
    /** This service's role, e.g. `pipeline` or `store`. */
    readonly role: string,
    protected readonly opts: ControlConsumerOptions,
  ) {}

  /** Performs an action aimed at this service. Throwing is answered as `error`. */
  protected abstract perform(msg: ControlAction): PerformedAction | Promise<PerformedAction>;

  /** Targets this service acts on besides its role and consumer name (e.g. `provider:<name>`). */
  protected aimsAt(_target: string): boolean {
    return false;
  }

  /** Hook after an action was handled (metrics). */
  protected handled(_msg: ControlAction, _outcome: PerformedAction): void {}

  get running(): boolean {
    return this.reading.running;
  }

  start(): void {
    if (this.running) return;
    this.reading.start();
    this.opts.logger?.info(
      { stream: this.bus.streamName(STREAMS.control), consumer: this.opts.consumer },
      'control consumer started',
    );
  }

  stop(): Promise<void> {
    return this.reading.stop();
  }

  async handle(envelope: EventEnvelope<ControlAction>): Promise<HandledAction> {
    const msg = envelope.payload;
    if (
      msg.target !== undefined &&
      msg.target !== this.role &&
      msg.target !== this.opts.consumer &&
      !this.aimsAt(msg.target)
    ) {
      return { result: 'ignored', detail: `aimed at ${msg.target}`, target: msg.target };
    }
    let outcome: PerformedAction;
    try {
      // Awaited only when asynchronous: a synchronous answer is published in the order actions arrived.
      const performed = this.perform(msg);
      outcome = performed instanceof Promise ? await performed : performed;
    } catch (err) {
      outcome = {
        result: 'error',
        detail: `${msg.action} failed: ${(err as Error).message}`,
        target: msg.target ?? this.role,
      };
    }
    this.handled(msg, outcome);
    this.opts.logger?.info(
      { action: msg.action, ...outcome, actor: msg.actor, id: envelope.id },
      'control action handled',
    );
    const correlationId =
      msg.correlation_id ?? envelope.meta.headers[CORRELATION_HEADER] ?? envelope.id;
    // The core's AuditEnvelope knows pause | resume | reload and ok | error: `auditEntry` puts the
    // verb in `operation` and `action` in the core's terms, `controlResult` the outcome in both.
    const audit = auditEntry({
      actor: this.opts.consumer,
      role: this.role,
      operation: msg.action,
      result: controlResult(outcome.result, outcome.detail),
      ts: Date.now() / 1000,
      target: outcome.target,
      correlation_id: correlationId,
      attributes: msg.actor ? { requested_by: msg.actor } : undefined,
    });
    await this.bus.publish(
      STREAMS.audit,
      envelopeFor(streamSchemaId(STREAMS.audit), audit, {
        key: this.role,
        track: this.bus.track,
        headers: { [CORRELATION_HEADER]: correlationId, [OPERATION_HEADER]: msg.action },
      }),
    );
    return outcome;
  }
}
