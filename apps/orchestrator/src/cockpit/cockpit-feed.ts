import { EventEmitter } from 'node:events';
import type {
  BackpressureLevel,
  EventEnvelope,
  FeedbackEvent,
  HealthStatus,
  RateAdjustment,
} from '@mdp/contracts';
import type { AuditRow, StoredAuditRow } from '../audit/audit-row';
import type { AuditTrail } from '../audit/audit-trail';
import type { DeadLetterAudit, DeadLetterSummary } from '../audit/dead-letter-audit';
import type { ClusterView, TopologyNode } from '../cluster/cluster-view';
import type { StreamInfo } from '../cluster/bus-inspector';
import type { ObserverListener, PulseObserver } from '../observer/pulse-observer.service';

/** One sample of a coordinator's queue, for the cockpit chart: [epoch s, queue size, capacity, level 0|1|2]. */
export type QueueSample = [number, number, number, number];

const LEVEL: Record<BackpressureLevel, number> = { ok: 0, soft: 1, hard: 2 };
/** Chart history kept per coordinator: ten minutes at one sample per second at most. */
const HISTORY_S = 600;
const MAX_COORDINATORS = 32;

export interface CockpitSnapshot {
  ts: number;
  namespace: string;
  /** `inmem`: stream lengths and consumers are not known (the in-memory bus cannot be inspected). */
  backend: string;
  cluster: HealthStatus & { reason: string | null };
  nodes: TopologyNode[];
  coordinators: Array<{
    id: string;
    level: BackpressureLevel;
    queue_size: number;
    capacity: number;
    ts: number;
    history: QueueSample[];
  }>;
  providers: Array<{ provider: string; scale: number; reason: string; ts: number }>;
  streams: StreamInfo[];
  dead_letters: DeadLetterSummary[];
  audit: StoredAuditRow[] | AuditRow[];
  control_enabled: boolean;
}

/**
 * What the cockpit page shows, assembled from the observer, the cluster view and the audit trail, and
 * a change signal for its server-sent events (coalesced to at most one snapshot per `minGapMs`).
 */
export class CockpitFeed implements ObserverListener {
  private readonly history = new Map<string, QueueSample[]>();
  private readonly events = new EventEmitter();
  private pending?: NodeJS.Timeout;
  private lastPush = 0;

  constructor(
    private readonly observer: PulseObserver,
    private readonly cluster: ClusterView,
    private readonly trail: AuditTrail,
    private readonly deadLetters: DeadLetterAudit,
    private readonly controlEnabled: boolean,
    private readonly minGapMs = 250,
  ) {
    this.events.setMaxListeners(0);
    cluster.onChange(() => this.changed());
    trail.onAppended((row) => {
      this.events.emit('audit', row);
      this.changed();
    });
  }

  feedback(event: FeedbackEvent, _envelope: EventEnvelope): void {
    let samples = this.history.get(event.coordinator_id);
    if (!samples) {
      if (this.history.size >= MAX_COORDINATORS)
        this.history.delete(this.history.keys().next().value as string);
      this.history.set(event.coordinator_id, (samples = []));
    }
    const sample: QueueSample = [event.ts, event.queue_size, event.capacity, LEVEL[event.level]];
    // Several events within one second: keep the latest, so a flood does not flood the chart.
    if (samples.length && Math.floor(samples[samples.length - 1][0]) === Math.floor(event.ts))
      samples[samples.length - 1] = sample;
    else samples.push(sample);
    while (samples.length && samples[0][0] < event.ts - HISTORY_S) samples.shift();
    this.changed();
  }

  rateAdjustment(_adjustment: RateAdjustment): void {
    this.changed();
  }

  health(): void {
    this.changed();
  }

  /** Subscribes to snapshots (throttled) and new audit rows; returns the unsubscribe. */
  subscribe(onSnapshot: () => void, onAudit: (row: AuditRow) => void): () => void {
    this.events.on('snapshot', onSnapshot);
    this.events.on('audit', onAudit);
    return () => {
      this.events.off('snapshot', onSnapshot);
      this.events.off('audit', onAudit);
    };
  }

  stop(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.events.emit('close');
    this.events.removeAllListeners();
  }

  onClose(listener: () => void): void {
    this.events.once('close', listener);
  }

  async snapshot(): Promise<CockpitSnapshot> {
    const status = this.observer.status();
    const topology = await this.cluster.topology(false);
    const coordinators = Object.entries(
      status.streams['telemetry.feedback']?.coordinators ?? {},
    ).map(([id, c]) => ({ id, ...c, history: this.history.get(id) ?? [] }));
    const providers = Object.entries(
      status.streams['telemetry.rate_adjustment']?.providers ?? {},
    ).map(([provider, p]) => ({ provider, ...p }));
    let audit: StoredAuditRow[] = [];
    try {
      audit = (await this.trail.store.page({ limit: 25 })).entries;
    } catch {
      // The database is down: the page still shows everything else (and /health says why).
    }
    return {
      ts: Date.now() / 1000,
      namespace: status.namespace,
      backend: status.backend,
      cluster: await this.cluster.clusterHealth(),
      nodes: [...topology.nodes, ...topology.other_nodes],
      coordinators,
      providers,
      streams: topology.streams,
      dead_letters: this.deadLetters.summaries(topology.streams),
      audit,
      control_enabled: this.controlEnabled,
    };
  }

  private changed(): void {
    if (this.pending) return;
    const wait = Math.max(0, this.lastPush + this.minGapMs - Date.now());
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.lastPush = Date.now();
      this.events.emit('snapshot');
    }, wait);
    this.pending.unref();
  }
}
