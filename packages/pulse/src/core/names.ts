/**
 * Stream naming. Logical stream `telemetry.feedback` in namespace `mdp` is the physical Redis key
 * `mdp.telemetry.feedback`; its dead letters go to `mdp.telemetry.feedback.dlq`.
 *
 * A partitioned logical stream (N > 1) becomes N physical streams `{mdp.md.bars.p0}` ...
 * `{mdp.md.bars.p<N-1>}`: the whole name is a Redis Cluster hash tag, so one partition and its
 * dead-letter stream `{mdp.md.bars.p0}.dlq` share a slot (the atomic MULTI that moves an entry to the
 * DLQ needs that), while different partitions spread over the shards.
 */

export const DLQ_SUFFIX = '.dlq';

export function physicalStream(namespace: string, stream: string): string {
  return `${namespace}.${stream}`;
}

/**
 * The key the Python core's bus uses for the same logical stream: it prefixes `<namespace>:` to the
 * stream name its services pass, which is already `<namespace>.<stream>` (`mdp:mdp.telemetry.feedback`).
 */
export function coreStream(namespace: string, stream: string): string {
  return `${namespace}:${physicalStream(namespace, stream)}`;
}

export function partitionStream(namespace: string, stream: string, partition: number): string {
  return `{${namespace}.${stream}.p${partition}}`;
}

/** All physical streams of a logical stream (one unless partitioned). */
export function physicalStreams(namespace: string, stream: string, partitions = 1): string[] {
  if (partitions <= 1) return [physicalStream(namespace, stream)];
  return Array.from({ length: partitions }, (_, i) => partitionStream(namespace, stream, i));
}

export function dlqStream(physical: string): string {
  return `${physical}${DLQ_SUFFIX}`;
}

/**
 * FNV-1a (32 bit) over the UTF-8 bytes of the envelope key (a null key counts as the empty string),
 * modulo the partition count. Documented in the README so producers in other languages pick the same
 * partition.
 */
export function partitionOf(key: string | null, partitions: number): number {
  if (partitions <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key ?? '', 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/**
 * Spreads partitions over the consumers of one group: consumer `index` of `count` gets every
 * partition p with p % count === index, so each partition (and so each key) has one reader.
 */
export function assignPartitions(index: number, count: number, partitions: number): number[] {
  if (count < 1 || index < 0 || index >= count)
    throw new Error(`consumer index ${index} out of range for ${count} consumers`);
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % count === index);
}
