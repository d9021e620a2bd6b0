import { z } from 'zod';
import { EpochSeconds, HealthState, NonEmptyString, NonNegativeInt } from '../primitives';

export const NodeRole = z.enum(['orchestrator', 'pipeline', 'store'], {
  error: 'must be one of orchestrator | pipeline | store',
});
export type NodeRole = z.infer<typeof NodeRole>;

/**
 * Python core v1 `NodeStatus`. Python wraps ids in value objects (`NodeId(value)`, `ClusterId(value)`,
 * `Region(name)`); on our wire they are plain strings.
 */
export const NodeStatusV1 = z.object({
  node_id: NonEmptyString,
  role: NodeRole,
  health: HealthState,
  version: z.string({ error: 'must be a string' }),
  last_seen_ts: EpochSeconds,
});

export const NodeStatusV2 = NodeStatusV1.extend({
  /** Base URL the orchestrator probes (`<url>/health`). */
  url: z.string({ error: 'must be a string' }).optional(),
});

/** One consumer group of a stream, as Redis XINFO GROUPS reports it. */
export const ConsumerGroupStatus = z.object({
  name: NonEmptyString,
  consumers: NonNegativeInt,
  /** Delivered but not acknowledged. */
  pending: NonNegativeInt,
  /** Entries not yet delivered to the group; null when Redis cannot tell (e.g. after trimming). */
  lag: NonNegativeInt.nullable(),
  last_delivered_id: z.string({ error: 'must be a string' }).optional(),
});

/** One stream (logical name, without namespace) with its groups and dead-letter depth. */
export const StreamStatus = z.object({
  name: NonEmptyString,
  length: NonNegativeInt,
  groups: z.array(ConsumerGroupStatus).default([]),
  /** Length of `<stream>.dlq`, when known. */
  dlq_length: NonNegativeInt.optional(),
});

/** Python core v1 `ClusterTopology`. */
export const ClusterTopologyV1 = z.object({
  cluster_id: NonEmptyString,
  region: NonEmptyString,
  nodes: z.array(NodeStatusV1).default([]),
});

export const ClusterTopologyV2 = ClusterTopologyV1.extend({
  nodes: z.array(NodeStatusV2).default([]),
  /** The bus as the orchestrator last saw it. */
  streams: z.array(StreamStatus).optional(),
  /** When this view was assembled. */
  ts: EpochSeconds.optional(),
});

export type NodeStatusV1 = z.infer<typeof NodeStatusV1>;
export type NodeStatusV2 = z.infer<typeof NodeStatusV2>;
export type NodeStatus = NodeStatusV2;
export type ConsumerGroupStatus = z.infer<typeof ConsumerGroupStatus>;
export type StreamStatus = z.infer<typeof StreamStatus>;
export type ClusterTopologyV1 = z.infer<typeof ClusterTopologyV1>;
export type ClusterTopologyV2 = z.infer<typeof ClusterTopologyV2>;
export type ClusterTopology = ClusterTopologyV2;
