import { hostname } from 'node:os';
import {
  DynamicModule,
  Injectable,
  Module,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { STREAMS, streamEntry, streamSchemaId, type HealthStatus } from '@mdp/contracts';
import { envelopeFor, type EventBus } from '@mdp/pulse';
import { EVENT_BUS } from './bus.module';
import { HealthRegistry } from './health';

/** Envelope headers of a heartbeat: which process sent it and how often it beats. */
export const HEARTBEAT_HEADERS = { nodeId: 'node_id', intervalMs: 'interval_ms' } as const;
export const DEFAULT_HEARTBEAT_MS = 5000;

const HEALTH_RETENTION = streamEntry(STREAMS.health).retention;
/** The catalogue's trim length for heartbeats (they are only worth their latest value). */
const HEALTH_MAX_LEN = HEALTH_RETENTION.kind === 'max_len' ? HEALTH_RETENTION.maxLen : undefined;

export interface HeartbeatOptions {
  intervalMs?: number;
  /** Distinguishes instances of one service; default `<service>@<hostname>:<pid>`. */
  nodeId?: string;
  /** Approximate length the stream is trimmed to; heartbeats are only worth their latest value. */
  maxLen?: number;
  /** Called when a beat cannot be published (bus down); the next beat tries again. */
  onError?: (err: Error) => void;
}

/**
 * Publishes this service's `HealthStatus` (the `/health` body) on `<ns>.telemetry.health` every
 * `intervalMs`, so the orchestrator knows about every running service without being told, and notices
 * the ones that go silent. A failed beat is reported and skipped, never thrown.
 */
export class HeartbeatPublisher {
  private timer?: NodeJS.Timeout;
  private early?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  readonly intervalMs: number;
  readonly nodeId: string;

  constructor(
    private readonly bus: EventBus,
    private readonly health: HealthRegistry,
    private readonly opts: HeartbeatOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.nodeId = opts.nodeId ?? `${health.service}@${hostname()}:${process.pid}`;
  }

  start(): void {
    if (this.timer) return;
    void this.beat();
    // A service is often still starting at its first beat (migrations, subscriptions): a second one
    // soon after tells the cluster it is up without waiting a whole interval.
    this.early = setTimeout(() => void this.beat(), Math.min(1000, this.intervalMs / 2));
    this.early.unref();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.early) clearTimeout(this.early);
    if (this.timer) clearInterval(this.timer);
    this.early = undefined;
    this.timer = undefined;
  }

  /** Publishes one heartbeat now; resolves false when it could not be published. */
  async beat(): Promise<boolean> {
    try {
      const { ready, ...status } = await this.health.status();
      const full: HealthStatus = {
        ...status,
        ready,
        uptime_s: (Date.now() - this.startedAt) / 1000,
      };
      const envelope = envelopeFor(streamSchemaId(STREAMS.health), full, {
        key: this.health.service,
        track: this.bus.track,
        headers: {
          [HEARTBEAT_HEADERS.nodeId]: this.nodeId,
          [HEARTBEAT_HEADERS.intervalMs]: String(this.intervalMs),
        },
      });
      await this.bus.publish(STREAMS.health, envelope, {
        maxLen: this.opts.maxLen ?? HEALTH_MAX_LEN,
      });
      return true;
    } catch (err) {
      this.opts.onError?.(err as Error);
      return false;
    }
  }
}

export const HEARTBEAT_OPTIONS = Symbol('HEARTBEAT_OPTIONS');

@Injectable()
class HeartbeatLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(readonly publisher: HeartbeatPublisher) {}

  onApplicationBootstrap(): void {
    this.publisher.start();
  }

  beforeApplicationShutdown(): void {
    this.publisher.stop();
  }
}

/** Starts the heartbeat with the application and stops it on shutdown. Requires HealthModule and BusModule. */
@Module({})
export class HeartbeatModule {
  static forRoot(options: HeartbeatOptions = {}): DynamicModule {
    return {
      module: HeartbeatModule,
      providers: [
        { provide: HEARTBEAT_OPTIONS, useValue: options },
        {
          provide: HeartbeatPublisher,
          inject: [EVENT_BUS, HealthRegistry, HEARTBEAT_OPTIONS],
          useFactory: (bus: EventBus, health: HealthRegistry, opts: HeartbeatOptions) =>
            new HeartbeatPublisher(bus, health, opts),
        },
        HeartbeatLifecycle,
      ],
      exports: [HeartbeatPublisher],
    };
  }
}
