import {
  auditEntry,
  controlResult,
  toControlCommand,
  type ControlAction,
  type ControlCommand,
  type EventEnvelope,
} from '@mdp/contracts';
import type { EventBus, Subscription } from '@mdp/pulse';
import type { Logger } from '@mdp/service-kit';
import type { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { RateCoordinator } from '../rate/rate-coordinator';
import { envelopeFor } from '../telemetry/envelopes';

export const CONTROL_STREAM = 'control.actions';
export const AUDIT_STREAM = 'telemetry.audit';
/** Who this service answers to in `target` (besides its consumer name). */
export const SERVICE_ROLE = 'pipeline';

export interface ControlConsumerOptions {
  consumer: string;
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
  metrics?: PipelineMetrics;
}

/** What the pipeline did with an action aimed at it: performed (`ok`) or refused (`rejected`). */
type Performed = { result: 'ok' | 'rejected'; detail: string; target: string };
export type ControlOutcome = Performed | { result: 'ignored'; detail: string; target: string };

/**
 * Orchestrator control over Pulse (`<ns>.control.actions`): pause and resume providers (one, or all
 * when none is named) and set a provider's budget scale. Every action aimed at this service is
 * acknowledged with an audit entry on `<ns>.telemetry.audit`, including refusals (unknown action or
 * provider), so the operator always learns what happened.
 */
export class ControlConsumer {
  private subscription?: Subscription;

  constructor(
    private readonly bus: EventBus,
    private readonly coordinator: RateCoordinator,
    private readonly opts: ControlConsumerOptions,
  ) {}

  get running(): boolean {
    return this.subscription !== undefined;
  }

  start(): void {
    if (this.subscription) return;
    this.subscription = this.bus.subscribe<ControlAction>(
      {
        stream: CONTROL_STREAM,
        group: this.opts.group ?? SERVICE_ROLE,
        consumer: this.opts.consumer,
        maxDeliveries: this.opts.maxDeliveries ?? 5,
        idempotency: this.opts.idempotency ?? 'memory',
        blockMs: this.opts.blockMs,
        minIdleMs: this.opts.minIdleMs,
        startFrom: this.opts.startFrom ?? '$',
      },
      (envelope) => this.handle(envelope).then(() => undefined),
    );
    this.opts.logger?.info(
      { stream: this.bus.streamName(CONTROL_STREAM), consumer: this.opts.consumer },
      'control consumer started',
    );
  }

  async stop(): Promise<void> {
    const sub = this.subscription;
    this.subscription = undefined;
    await sub?.close();
  }

  async handle(envelope: EventEnvelope<ControlAction>): Promise<ControlOutcome> {
    const msg = envelope.payload;
    if (envelope.meta.schema_id !== 'control.ControlAction') {
      throw new Error(
        `unexpected schema "${envelope.meta.schema_id}" on ${CONTROL_STREAM} (expected control.ControlAction)`,
      );
    }
    if (
      msg.target !== undefined &&
      msg.target !== SERVICE_ROLE &&
      msg.target !== this.opts.consumer &&
      !msg.target.startsWith('provider:')
    ) {
      return { result: 'ignored', detail: `aimed at ${msg.target}`, target: msg.target };
    }
    const outcome = this.perform(msg);
    this.opts.metrics?.controlActions.inc({ action: msg.action, result: outcome.result });
    this.opts.logger?.info(
      { action: msg.action, ...outcome, actor: msg.actor, id: envelope.id },
      'control action handled',
    );
    // The core's AuditEnvelope knows pause | resume | reload and ok | error: `auditEntry` puts the
    // verb in `operation` and `action` in the core's terms, `controlResult` the outcome in both.
    const audit = auditEntry({
      actor: this.opts.consumer,
      role: SERVICE_ROLE,
      operation: msg.action,
      result: controlResult(outcome.result, outcome.detail),
      ts: Date.now() / 1000,
      target: outcome.target,
      correlation_id: msg.correlation_id ?? envelope.id,
      attributes: msg.actor ? { requested_by: msg.actor } : undefined,
    });
    await this.bus.publish(
      AUDIT_STREAM,
      envelopeFor({
        schemaId: 'telemetry.AuditEnvelope',
        track: this.bus.track,
        key: SERVICE_ROLE,
        payload: audit,
      }),
    );
    return outcome;
  }

  private perform(msg: ControlAction): Performed {
    const cmd = toControlCommand(msg, { accept: 'v2' });
    const named =
      msg.provider ??
      (msg.target?.startsWith('provider:') ? msg.target.slice('provider:'.length) : undefined);
    if (!cmd.ok)
      return {
        result: 'rejected',
        detail: cmd.error.message,
        target: named ? `provider:${named}` : SERVICE_ROLE,
      };
    const providers = named
      ? [named]
      : this.coordinator.providers().filter((p) => this.coordinator.isRegistered(p));
    const target = named ? `provider:${named}` : SERVICE_ROLE;
    if (named && !this.coordinator.isRegistered(named))
      return { result: 'rejected', detail: `unknown provider "${named}"`, target };
    return this.apply(cmd.value, providers, target);
  }

  private apply(cmd: ControlCommand, providers: string[], target: string): Performed {
    switch (cmd.action) {
      case 'pause':
        providers.forEach((p) => this.coordinator.pause(p));
        return { result: 'ok', detail: `paused ${providers.join(', ') || 'no providers'}`, target };
      case 'resume':
        providers.forEach((p) => this.coordinator.resume(p));
        return {
          result: 'ok',
          detail: `resumed ${providers.join(', ') || 'no providers'}`,
          target,
        };
      case 'set_scale':
        this.coordinator.setBudgetScale(cmd.provider, cmd.scale);
        return {
          result: 'ok',
          detail: `scale of ${cmd.provider} set to ${cmd.scale}`,
          target: `provider:${cmd.provider}`,
        };
      default:
        return {
          result: 'rejected',
          detail: `the pipeline does not perform "${cmd.action}"`,
          target,
        };
    }
  }
}
