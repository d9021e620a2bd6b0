import type { HealthState, HealthStatus } from '@mdp/contracts';
import { DEFAULT_HEARTBEAT_MS } from '@mdp/service-kit';

/** Heartbeats missed before a service counts as silent (unhealthy). */
export const SILENT_AFTER_BEATS = 3;
/** A silent node is still shown this long, then forgotten. */
const FORGET_AFTER_MS = 60 * 60_000;
const MAX_NODES = 256;

export interface NodeSeen {
  node_id: string;
  service: string;
  version: string;
  /** The state the service reported in its last heartbeat. */
  reported: HealthState;
  /** `unhealthy` while silent, else the reported state. */
  state: HealthState;
  ready: boolean | null;
  silent: boolean;
  interval_ms: number;
  /** Epoch seconds of the last heartbeat received. */
  last_seen_ts: number;
  first_seen_ts: number;
  status: HealthStatus;
  /** Envelope id of the last heartbeat (idempotency key of the audit rows it causes). */
  last_envelope_id: string;
}

export type NodeEvent = { type: 'appeared' | 'silent'; node: NodeSeen };

/**
 * Who is alive, from their heartbeats on `<ns>.telemetry.health`: a node appears with its first beat
 * (or its first after silence) and goes silent after SILENT_AFTER_BEATS missed intervals.
 */
export class ServiceRegistry {
  private readonly nodes = new Map<string, NodeSeen>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records a heartbeat; returns `appeared` when the node is new or was silent. */
  heartbeat(
    nodeId: string,
    status: HealthStatus,
    envelopeId: string,
    intervalMs = DEFAULT_HEARTBEAT_MS,
  ): NodeEvent | undefined {
    const nowS = this.now() / 1000;
    const known = this.nodes.get(nodeId);
    const node: NodeSeen = {
      node_id: nodeId,
      service: status.service,
      version: status.version,
      reported: status.state,
      state: status.state,
      ready: status.ready ?? null,
      silent: false,
      interval_ms: intervalMs,
      last_seen_ts: nowS,
      first_seen_ts: known && !known.silent ? known.first_seen_ts : nowS,
      status,
      last_envelope_id: envelopeId,
    };
    this.nodes.delete(nodeId);
    this.nodes.set(nodeId, node);
    if (this.nodes.size > MAX_NODES) this.nodes.delete(this.nodes.keys().next().value as string);
    return !known || known.silent ? { type: 'appeared', node } : undefined;
  }

  /** Marks nodes silent past their deadline; returns the ones that just went silent. */
  sweep(): NodeEvent[] {
    const nowMs = this.now();
    const events: NodeEvent[] = [];
    for (const [id, node] of this.nodes) {
      const quietMs = nowMs - node.last_seen_ts * 1000;
      if (node.silent) {
        if (quietMs > FORGET_AFTER_MS) this.nodes.delete(id);
        continue;
      }
      if (quietMs > SILENT_AFTER_BEATS * node.interval_ms) {
        node.silent = true;
        node.state = 'unhealthy';
        events.push({ type: 'silent', node });
      }
    }
    return events;
  }

  list(): NodeSeen[] {
    return [...this.nodes.values()].sort(
      (a, b) => a.service.localeCompare(b.service) || a.node_id.localeCompare(b.node_id),
    );
  }
}

/** Why a node is not healthy, in one line: silence, or its worst components' own reasons. */
export function reasonOf(node: NodeSeen, nowMs: number): string | undefined {
  if (node.silent)
    return `silent for ${Math.round(nowMs / 1000 - node.last_seen_ts)} s (${SILENT_AFTER_BEATS} heartbeats missed)`;
  if (node.reported === 'healthy') return undefined;
  const bad = node.status.components.filter((c) => c.state === node.reported);
  return (
    bad
      .map(
        (c) =>
          `${c.name} ${c.state}${(c.details.error ?? c.details.reason) ? `: ${c.details.error ?? c.details.reason}` : ''}`,
      )
      .join('; ') || node.reported
  );
}
