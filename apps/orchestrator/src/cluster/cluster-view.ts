import { EventEmitter } from 'node:events';
import type {
  ClusterTopology,
  EventEnvelope,
  HealthComponent,
  HealthState,
  HealthStatus,
  NodeStatus,
} from '@mdp/contracts';
import { NodeRole } from '@mdp/contracts';
import type { HealthRegistry, Logger } from '@mdp/service-kit';
import { DEFAULT_HEARTBEAT_MS, HEARTBEAT_HEADERS } from '@mdp/service-kit';
import { Gauge, Registry } from 'prom-client';
import type { AuditRow } from '../audit/audit-row';
import type { AuditTrail } from '../audit/audit-trail';
import type { DeadLetterAudit } from '../audit/dead-letter-audit';
import type { ObserverListener } from '../observer/pulse-observer.service';
import type { BusInspector, StreamInfo } from './bus-inspector';
import { NodeEvent, NodeSeen, reasonOf, ServiceRegistry } from './service-registry';

const RANK: Record<HealthState, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** A node of the topology: the contract's NodeStatus plus what its heartbeat said. */
export type TopologyNode = NodeStatus & {
  service: string;
  silent: boolean;
  ready: boolean | null;
  reason: string | null;
  uptime_s: number | null;
};

/** GET /topology: the contract's ClusterTopology (v2) with consumers per group and every heartbeat. */
export type TopologyView = ClusterTopology & {
  ts: number;
  streams: StreamInfo[];
  nodes: TopologyNode[];
  /** Nodes whose service is not a known NodeRole (still true, not in `nodes`). */
  other_nodes: TopologyNode[];
  inspected_at: number | null;
  inspect_error: string | null;
};

export interface ClusterViewOptions {
  clusterId: string;
  region: string;
  pollMs: number;
  now?: () => number;
}

/**
 * The cluster as the orchestrator sees it: nodes from heartbeats, streams from the bus inspector
 * (polled every `pollMs`, which also updates the lag/pending gauges, checks the dead-letter streams
 * and notices silent nodes). Appearing and silent nodes are audited.
 */
export class ClusterView implements ObserverListener {
  readonly registry: ServiceRegistry;
  private readonly events = new EventEmitter();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private streams: StreamInfo[] = [];
  private inspectedAt: number | null = null;
  private inspectError: string | null = null;
  private readonly now: () => number;
  private readonly gauges: {
    pending: Gauge<'stream' | 'group'>;
    lag: Gauge<'stream' | 'group'>;
    length: Gauge<'stream'>;
    dlq: Gauge<'stream'>;
  };

  constructor(
    private readonly inspector: BusInspector,
    private readonly trail: AuditTrail,
    private readonly deadLetters: DeadLetterAudit,
    private readonly ownHealth: HealthRegistry,
    private readonly logger: Logger,
    metrics: Registry,
    private readonly options: ClusterViewOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.registry = new ServiceRegistry(this.now);
    const registers = [metrics];
    this.gauges = {
      pending: new Gauge({
        name: 'orchestrator_stream_pending',
        help: 'Delivered but unacknowledged entries per stream and consumer group (XINFO GROUPS)',
        labelNames: ['stream', 'group'],
        registers,
      }),
      lag: new Gauge({
        name: 'orchestrator_stream_lag',
        help: 'Entries not yet delivered to the consumer group (XINFO GROUPS lag)',
        labelNames: ['stream', 'group'],
        registers,
      }),
      length: new Gauge({
        name: 'orchestrator_stream_length',
        help: 'Entries in the stream (XLEN)',
        labelNames: ['stream'],
        registers,
      }),
      dlq: new Gauge({
        name: 'orchestrator_dlq_length',
        help: "Entries in the stream's dead-letter stream <stream>.dlq",
        labelNames: ['stream'],
        registers,
      }),
    };
  }

  /** Fires after each poll and each node event (the cockpit's live feed). */
  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  health(status: HealthStatus, envelope: EventEnvelope): Promise<void> | void {
    const nodeId =
      envelope.meta.headers[HEARTBEAT_HEADERS.nodeId] ?? envelope.key ?? status.service;
    const interval =
      Number(envelope.meta.headers[HEARTBEAT_HEADERS.intervalMs]) || DEFAULT_HEARTBEAT_MS;
    const event = this.registry.heartbeat(nodeId, status, envelope.id, interval);
    if (event) return this.auditNode(event);
  }

  start(): void {
    if (this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await this.inspector.close();
  }

  /** One inspection: streams, gauges, dead letters, silent nodes. Never overlaps itself. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      this.streams = await this.inspector.streams();
      this.inspectedAt = this.now() / 1000;
      this.inspectError = null;
      this.updateGauges();
      await this.deadLetters.check(this.streams);
    } catch (err) {
      this.inspectError = (err as Error).message;
      this.logger.warn({ err: this.inspectError }, 'bus inspection failed');
    }
    for (const event of this.registry.sweep()) await this.auditNode(event);
    this.events.emit('change');
  }

  private updateGauges(): void {
    for (const g of Object.values(this.gauges)) g.reset();
    for (const s of this.streams) {
      this.gauges.length.set({ stream: s.name }, s.length);
      if (s.dlq_length !== undefined) this.gauges.dlq.set({ stream: s.name }, s.dlq_length);
      for (const g of s.groups) {
        this.gauges.pending.set({ stream: s.name, group: g.name }, g.pending);
        if (g.lag !== null) this.gauges.lag.set({ stream: s.name, group: g.name }, g.lag);
      }
    }
  }

  private async auditNode(event: NodeEvent): Promise<void> {
    const n = event.node;
    const row: AuditRow =
      event.type === 'appeared'
        ? {
            source_id: `service.appeared:${n.last_envelope_id}`,
            kind: 'service',
            ts: n.last_seen_ts,
            actor: n.node_id,
            role: n.service,
            action: 'service.appeared',
            target: n.node_id,
            correlation_id: null,
            status: 'ok',
            outcome: null,
            detail: `${n.service} ${n.version} appeared, reporting ${n.reported}${reasonOf(n, this.now()) ? ` (${reasonOf(n, this.now())})` : ''}`,
            attributes: {
              service: n.service,
              version: n.version,
              interval_ms: String(n.interval_ms),
            },
          }
        : {
            source_id: `service.silent:${n.node_id}:${n.last_envelope_id}`,
            kind: 'service',
            ts: this.now() / 1000,
            actor: 'orchestrator',
            role: 'orchestrator',
            action: 'service.silent',
            target: n.node_id,
            correlation_id: null,
            status: 'error',
            outcome: null,
            detail: `${n.service} ${reasonOf(n, this.now())}`,
            attributes: {
              service: n.service,
              version: n.version,
              last_seen_ts: String(n.last_seen_ts),
            },
          };
    try {
      await this.trail.record(row);
    } catch (err) {
      this.logger.error(
        { err: (err as Error).message, node: n.node_id, event: event.type },
        'service event not audited',
      );
    }
    this.events.emit('change');
  }

  streamsSeen(): StreamInfo[] {
    return this.streams;
  }

  /** GET /topology. `fresh` inspects the bus now instead of using the last poll. */
  async topology(fresh = true): Promise<TopologyView> {
    if (fresh) await this.poll();
    const all = this.registry.list().map((n) => this.nodeOf(n));
    const known = new Set<string>(NodeRole.options);
    return {
      cluster_id: this.options.clusterId,
      region: this.options.region,
      ts: this.now() / 1000,
      nodes: all.filter((n) => known.has(n.service)),
      other_nodes: all.filter((n) => !known.has(n.service)),
      streams: this.streams,
      inspected_at: this.inspectedAt,
      inspect_error: this.inspectError,
    };
  }

  /** GET /health/cluster: the worst state of every node and of the orchestrator itself, with the reason. */
  async clusterHealth(): Promise<HealthStatus & { reason: string | null }> {
    const own = await this.ownHealth.status();
    const nowMs = this.now();
    const components: HealthComponent[] = this.registry.list().map((n) => ({
      name: n.node_id,
      state: n.state,
      details: {
        service: n.service,
        version: n.version,
        last_seen_ts: n.last_seen_ts.toFixed(3),
        ...(reasonOf(n, nowMs) ? { reason: reasonOf(n, nowMs)! } : {}),
      },
    }));
    if (this.inspectError)
      components.push({
        name: 'bus-inspection',
        state: 'degraded',
        details: { reason: this.inspectError },
      });
    if (components.length === 0)
      components.push({
        name: 'heartbeats',
        state: 'degraded',
        details: { reason: 'no heartbeat seen yet' },
      });
    const worst = components.reduce(
      (a, c) => (RANK[c.state] > RANK[a.state] ? c : a),
      components[0],
    );
    const state = worst.state;
    return {
      service: 'cluster',
      state,
      components,
      version: own.version,
      ts: nowMs / 1000,
      reason: state === 'healthy' ? null : `${worst.name}: ${worst.details.reason ?? worst.state}`,
    };
  }

  private nodeOf(n: NodeSeen): TopologyNode {
    return {
      node_id: n.node_id,
      role: n.service as NodeStatus['role'],
      service: n.service,
      health: n.state,
      version: n.version,
      last_seen_ts: n.last_seen_ts,
      silent: n.silent,
      ready: n.ready,
      reason: reasonOf(n, this.now()) ?? null,
      uptime_s: n.status.uptime_s ?? null,
    };
  }
}
