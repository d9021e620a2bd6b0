/**
 * The stream catalogue: every logical stream of the system once, with the schema its entries carry,
 * who publishes it, which consumer groups read it and how long entries stay. The physical stream is
 * `<MD_NAMESPACE>.<name>`, its dead letters `<MD_NAMESPACE>.<name>.dlq`. `docs/system.md` is generated
 * from this list (`pnpm docs:system`); a test fails when the two drift apart.
 */
import type { SchemaId } from './registry';

/** The services of the system, as named in logs, health and metrics. */
export const SERVICES = ['store', 'pipeline', 'orchestrator'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** How long a stream keeps its entries. */
export type StreamRetention =
  /** No trimming: entries stay until an operator trims the stream (XTRIM). */
  | { kind: 'untrimmed' }
  /** Trimmed on publish to about `maxLen` entries (XADD MAXLEN ~). */
  | { kind: 'max_len'; maxLen: number }
  /** Trimmed on publish to entries younger than `ms` (XADD MINID ~). */
  | { kind: 'age'; ms: number };

export interface ConsumerGroup {
  /** The group name in Redis (XGROUP CREATE). */
  name: string;
  /** The service whose replicas join it (replicas share the group's work). */
  service: ServiceName;
  /** What the service does with the entries. */
  purpose: string;
}

export interface StreamEntry {
  /** Logical name, without the namespace: `md.bars`. */
  name: StreamName;
  /** Schema ids its envelopes may carry (`meta.schema_id`). */
  schemaIds: readonly SchemaId[];
  publishers: readonly ServiceName[];
  groups: readonly ConsumerGroup[];
  retention: StreamRetention;
  description: string;
}

/** Every logical stream name, once: publishers and consumers import these instead of spelling names. */
export const STREAMS = {
  bars: 'md.bars',
  options: 'md.options',
  news: 'md.news',
  fundamentals: 'md.fundamentals',
  feedback: 'telemetry.feedback',
  rateAdjustment: 'telemetry.rate_adjustment',
  audit: 'telemetry.audit',
  health: 'telemetry.health',
  control: 'control.actions',
} as const;
export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];

const UNTRIMMED: StreamRetention = { kind: 'untrimmed' };
const storeIngest = (what: string): ConsumerGroup => ({
  name: 'store',
  service: 'store',
  purpose: `writes ${what} to PostgreSQL`,
});

export const STREAM_CATALOGUE: readonly StreamEntry[] = [
  {
    name: STREAMS.bars,
    schemaIds: ['md.Bar'],
    publishers: ['pipeline'],
    groups: [storeIngest('bars (OHLCV)')],
    retention: UNTRIMMED,
    description: 'OHLCV bars from the providers',
  },
  {
    name: STREAMS.options,
    schemaIds: ['md.OptionSnap'],
    publishers: ['pipeline'],
    groups: [storeIngest('option snapshots')],
    retention: UNTRIMMED,
    description: 'option chain snapshots',
  },
  {
    name: STREAMS.news,
    schemaIds: ['md.News'],
    publishers: ['pipeline'],
    groups: [storeIngest('news items')],
    retention: UNTRIMMED,
    description: 'news items',
  },
  {
    name: STREAMS.fundamentals,
    schemaIds: ['md.Fundamentals'],
    publishers: ['pipeline'],
    groups: [storeIngest('fundamentals')],
    retention: UNTRIMMED,
    description: 'company fundamentals',
  },
  {
    name: STREAMS.feedback,
    schemaIds: ['telemetry.FeedbackEvent'],
    publishers: ['store'],
    groups: [
      {
        name: 'pipeline',
        service: 'pipeline',
        purpose: 'scales provider rates by backpressure level',
      },
      { name: 'orchestrator', service: 'orchestrator', purpose: 'observes backpressure levels' },
    ],
    retention: UNTRIMMED,
    description: 'backpressure level changes of the store coordinator',
  },
  {
    name: STREAMS.rateAdjustment,
    schemaIds: ['telemetry.RateAdjustment'],
    publishers: ['pipeline'],
    groups: [
      {
        name: 'orchestrator',
        service: 'orchestrator',
        purpose: 'observes rate scales per provider',
      },
    ],
    retention: UNTRIMMED,
    description: 'rate scale the pipeline applied per provider',
  },
  {
    name: STREAMS.audit,
    schemaIds: ['telemetry.AuditEnvelope'],
    publishers: ['store', 'pipeline', 'orchestrator'],
    groups: [
      { name: 'orchestrator', service: 'orchestrator', purpose: 'stores every entry in audit_log' },
    ],
    retention: UNTRIMMED,
    description: 'audit trail: control requests and their results',
  },
  {
    name: STREAMS.health,
    schemaIds: ['telemetry.HealthStatus'],
    publishers: ['store', 'pipeline', 'orchestrator'],
    groups: [
      {
        name: 'orchestrator',
        service: 'orchestrator',
        purpose: 'tracks services appearing and going silent',
      },
    ],
    retention: { kind: 'max_len', maxLen: 10_000 },
    description: 'service heartbeats',
  },
  {
    name: STREAMS.control,
    schemaIds: ['control.ControlAction'],
    publishers: ['orchestrator'],
    groups: [
      { name: 'pipeline', service: 'pipeline', purpose: 'pauses, resumes and scales providers' },
      {
        name: 'store',
        service: 'store',
        purpose: 'pauses and resumes ingest, replays the file DLQ',
      },
    ],
    retention: UNTRIMMED,
    description: 'operator control actions',
  },
];

/** The catalogue entry of a logical stream name, or undefined. */
export function catalogueEntry(name: string): StreamEntry | undefined {
  return STREAM_CATALOGUE.find((s) => s.name === name);
}

/** The catalogue entry of a logical stream; throws for a stream the catalogue does not know. */
export function streamEntry(name: StreamName): StreamEntry {
  const entry = catalogueEntry(name);
  if (!entry) throw new Error(`stream ${name} is not in the stream catalogue`);
  return entry;
}

/** The schema ids a stream's envelopes may carry: what a consumer of it accepts (others are dead-lettered). */
export function streamSchemaIds(name: StreamName): readonly SchemaId[] {
  return streamEntry(name).schemaIds;
}

/** The one schema id of a single-schema stream (the id its publishers put in `meta.schema_id`). */
export function streamSchemaId(name: StreamName): SchemaId {
  const ids = streamSchemaIds(name);
  if (ids.length !== 1)
    throw new Error(`stream ${name} carries ${ids.length} schemas; name the one to publish`);
  return ids[0];
}
