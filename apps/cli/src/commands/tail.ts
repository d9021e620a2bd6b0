/**
 * `mdp tail <stream>`: decoded envelopes as they arrive, one JSON object per line. Reads with XREAD
 * (no consumer group), so tailing never takes work away from the services.
 */
import { decodeEntry, Fields } from '@mdp/pulse';
import { CliContext, connectRedis, resolveStream } from '../context';

export interface TailOptions {
  /** Start from the oldest entry instead of new entries only. */
  fromStart?: boolean;
  /** Stop after this many entries. */
  count?: number;
  /** Poll block time in ms. */
  blockMs?: number;
  signal?: AbortSignal;
}

export async function tailCommand(
  ctx: CliContext,
  input: string,
  opts: TailOptions = {},
): Promise<number> {
  const redis = await connectRedis(ctx.env);
  try {
    const stream = await resolveStream(redis, ctx.env.MD_NAMESPACE, input);
    const physical = `${ctx.env.MD_NAMESPACE}.${stream}`;
    ctx.err(`tailing ${physical}${opts.fromStart ? ' from the start' : ''} (Ctrl-C stops)\n`);
    let last = opts.fromStart ? '0-0' : '$';
    let seen = 0;
    while (!opts.signal?.aborted && (opts.count === undefined || seen < opts.count)) {
      const reply = (await redis.xread(
        'COUNT',
        100,
        'BLOCK',
        opts.blockMs ?? 1000,
        'STREAMS',
        physical,
        last,
      )) as Array<[string, Array<[string, Fields]>]> | null;
      if (!reply) continue;
      for (const [id, fields] of reply[0][1]) {
        last = id;
        const decoded = decodeEntry(fields, ctx.env.PUBLISHER_TOKEN);
        ctx.out(
          JSON.stringify(
            decoded.ok
              ? { entry_id: id, ...decoded.envelope }
              : { entry_id: id, invalid: decoded.reason },
          ) + '\n',
        );
        if (opts.count !== undefined && ++seen >= opts.count) break;
      }
    }
    return seen;
  } finally {
    redis.disconnect();
  }
}
