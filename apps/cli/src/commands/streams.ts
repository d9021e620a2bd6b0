/** `mdp streams`: every stream with its length, consumer groups (pending, lag) and dead-letter count. */
import type Redis from 'ioredis';
import { catalogueEntry } from '@mdp/contracts';
import { CliContext, connectRedis, DLQ_SUFFIX, knownStreams } from '../context';
import { table } from '../table';

export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
}

export interface StreamInfo {
  stream: string;
  physical: string;
  exists: boolean;
  length: number;
  groups: GroupInfo[];
  dlq: number;
  schemaIds: string[];
}

/** XINFO GROUPS as objects (its reply is a flat list of name/value pairs per group). */
async function groupsOf(redis: Redis, key: string): Promise<GroupInfo[]> {
  const reply = (await redis.xinfo('GROUPS', key)) as unknown[][];
  return reply.map((flat) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
    return {
      name: String(o.name),
      consumers: Number(o.consumers),
      pending: Number(o.pending),
      lag: o.lag === null || o.lag === undefined ? null : Number(o.lag),
    };
  });
}

export async function collectStreams(redis: Redis, namespace: string): Promise<StreamInfo[]> {
  const out: StreamInfo[] = [];
  for (const stream of await knownStreams(redis, namespace)) {
    const physical = `${namespace}.${stream}`;
    const exists = (await redis.exists(physical)) === 1;
    out.push({
      stream,
      physical,
      exists,
      length: exists ? await redis.xlen(physical) : 0,
      groups: exists ? await groupsOf(redis, physical) : [],
      dlq: await redis.xlen(physical + DLQ_SUFFIX),
      schemaIds: [...(catalogueEntry(stream)?.schemaIds ?? [])],
    });
  }
  return out;
}

export async function streamsCommand(ctx: CliContext, opts: { json?: boolean }): Promise<void> {
  const redis = await connectRedis(ctx.env);
  try {
    const streams = await collectStreams(redis, ctx.env.MD_NAMESPACE);
    if (opts.json) {
      ctx.out(JSON.stringify(streams, null, 2) + '\n');
      return;
    }
    const rows = streams.flatMap((s) => {
      const head = [s.physical, s.exists ? String(s.length) : '(not created)', String(s.dlq)];
      if (!s.groups.length) return [[...head, '—', '', '', '']];
      return s.groups.map((g, i) => [
        ...(i === 0 ? head : ['', '', '']),
        g.name,
        String(g.consumers),
        String(g.pending),
        g.lag === null ? '?' : String(g.lag),
      ]);
    });
    ctx.out(table(['stream', 'length', 'dlq', 'group', 'consumers', 'pending', 'lag'], rows));
  } finally {
    redis.disconnect();
  }
}
