/**
 * What the consumer core needs from a stream backend: the Redis Streams consumer-group model. The
 * redis transport maps each call to (pipelined) Redis commands; the in-memory one emulates the same
 * semantics, so both backends share one consumer implementation and one behavioural test suite.
 */
import type { Fields } from '../wire/wire';

export interface RawEntry {
  /** Backend entry id (`<ms>-<seq>`). */
  id: string;
  /** null when the entry was trimmed/deleted while still pending. */
  fields: Fields | null;
  /** 1 on first delivery; grows with every redelivery or claim. */
  deliveryCount: number;
  /** A field value over the size cap, left out (empty in `fields`) without being read into memory. */
  tooLarge?: { field: string; bytes: number };
}

export interface StreamBatch {
  stream: string;
  entries: RawEntry[];
}

export interface TrimSpec {
  maxLen?: number;
  retentionMs?: number;
}

/** Acks to send, per physical stream. */
export type AckMap = Map<string, string[]>;

export interface DeadLetterMove {
  stream: string;
  entryId: string;
  dlqStream: string;
  fields: Fields;
}

export interface ReplayMove {
  dlqStream: string;
  dlqEntryId: string;
  stream: string;
  fields: Fields;
}

export interface ClaimResult {
  cursor: string;
  entries: RawEntry[];
  /** Pending ids whose entries no longer exist (trimmed): ack them. */
  deleted: string[];
}

/** One physical stream as the cluster sees it (topology views). */
export interface StreamInfo {
  stream: string;
  length: number;
  /** Redis Cluster only: the key's slot and the master that owns it (`host:port`). */
  slot?: number;
  node?: string;
  /** The group's pending entries and consumers; empty when the group does not exist (yet). */
  pending: number;
  consumers: Array<{ name: string; pending: number; idleMs: number }>;
}

export interface GroupStats {
  pending: number;
  /** Entries not yet delivered to the group; null when unknown. */
  lag: number | null;
}

/** The consumer of a group a reader reads for. */
export interface GroupConsumer {
  group: string;
  consumer: string;
}

/** XREADGROUP `>` over `streams`, up to `count` entries, blocking up to `blockMs`. */
export interface ReadNewRequest extends GroupConsumer {
  streams: string[];
  count: number;
  blockMs: number;
  /** Sent in the same round trip, before the read. */
  acks: AckMap;
}

/** This consumer's own pending entries of `stream` after `afterId`. */
export interface OwnPendingRequest extends GroupConsumer {
  stream: string;
  afterId: string;
  count: number;
}

/**
 * Up to `count` pending entries of `stream` idle at least `minIdleMs`, scanning the pending list from
 * `cursor` ('0-0': the start) and skipping `exclude` (what this consumer holds or has settled: those
 * must be neither handed out again nor have their delivery count raised).
 */
export interface ClaimIdleRequest extends GroupConsumer {
  stream: string;
  minIdleMs: number;
  cursor: string;
  count: number;
  exclude: ReadonlySet<string>;
}

/** A reader owns its own connection: a blocking read must not stall anyone else. */
export interface TransportReader {
  /** XREADGROUP `>`; sends the request's acks in the same round trip first. */
  readNew(req: ReadNewRequest): Promise<StreamBatch[]>;
  /** XREADGROUP with an id: this consumer's own pending entries. */
  readOwnPending(req: OwnPendingRequest): Promise<RawEntry[]>;
  /** Claims idle pending entries; each counts one more delivery. The cursor returned is '0-0' once the list is covered. */
  claimIdle(req: ClaimIdleRequest): Promise<ClaimResult>;
  /** Interrupts a blocked read and releases the connection. */
  close(): void;
}

export interface Transport {
  add(stream: string, entries: Fields[], trim?: TrimSpec): Promise<string[]>;
  ensureGroup(stream: string, group: string, startFrom: '0' | '$'): Promise<void>;
  reader(name: string): TransportReader;
  ack(group: string, acks: AckMap): Promise<void>;
  /**
   * Marks pending entries as just delivered to `consumer` without counting a delivery (XCLAIM JUSTID):
   * a live consumer's heartbeat over what it holds, so no consumer takes those over as idle.
   */
  touch(stream: string, group: string, consumer: string, ids: string[]): Promise<void>;
  /** Atomically appends each entry to its DLQ stream and acks it on the source. */
  deadLetter(group: string, moves: DeadLetterMove[]): Promise<void>;
  groupStats(stream: string, group: string): Promise<GroupStats>;
  range(stream: string, start: string, end: string, count: number): Promise<RawEntry[]>;
  del(stream: string, ids: string[]): Promise<number>;
  /** Atomically re-appends each entry to its source stream and deletes it from its DLQ. */
  replay(moves: ReplayMove[]): Promise<void>;
  /** SET NX EX for each key; returns which keys were newly set. */
  markKeys(keys: string[], ttlSec: number): Promise<void>;
  /** Which keys exist. */
  existKeys(keys: string[]): Promise<boolean[]>;
  /**
   * Records that `keep` is alive, then XGROUP DELCONSUMER of every other consumer of `group` that
   * holds no pending entry, was idle at least `idleMs` and has not recorded itself alive for as long,
   * checked and removed atomically; returns the names removed.
   */
  pruneConsumers(stream: string, group: string, idleMs: number, keep: string): Promise<string[]>;
  /** Stores `value` under `key` unless something is stored there; returns what is stored. */
  claimSetting(key: string, value: string): Promise<string>;
  /** Takes the lease `key` for `holder` when free or extends it when held by `holder`; returns the holder. */
  holdLease(key: string, holder: string, ttlMs: number): Promise<string>;
  /** Gives the lease up if `holder` has it. */
  releaseLease(key: string, holder: string): Promise<void>;
  streamInfo(stream: string, group: string): Promise<StreamInfo>;
  /** Whether one read may name only one stream (Redis Cluster: one XREADGROUP reads one slot). */
  readonly oneStreamPerReader?: boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Drops every connection at once, sending nothing more. */
  abort(): void;
}

export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  if (dash < 0) return [Number(id), 0];
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}
