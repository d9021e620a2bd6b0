/**
 * `mdp dlq list|show|replay`: the two dead-letter mechanisms in one place.
 * - `<stream>`: Pulse's `<ns>.<stream>.dlq` (entries the bus could not deliver), read and replayed
 *   through the bus's own readDeadLetters / replayDeadLetters.
 * - `--sink <kind>`: the store's file DLQ (rows the database refused), through the store's dlq CLI
 *   (apps/store/src/cli.ts), which replays into DATABASE_URL or the embedded PGlite directory.
 */
import type { DeadLetter, PulseBus } from '@mdp/pulse';
import {
  CliContext,
  CliError,
  connectRedis,
  DLQ_SUFFIX,
  knownStreams,
  openBus,
  resolveStream,
} from '../context';
import { table } from '../table';

export interface DlqOptions {
  sink?: string;
  limit?: number;
  after?: string;
  all?: boolean;
  json?: boolean;
}

/** The store's dlq CLI, loaded only when a command needs it (it brings the store's database code). */
async function storeDlq(ctx: CliContext, args: string[]): Promise<void> {
  const { runCli } = (await import('@mdp/store/dist/cli')) as typeof import('@mdp/store/dist/cli');
  const code = await runCli(['dlq', ...args], ctx.rawEnv, (line) => ctx.out(line + '\n'));
  if (code !== 0) throw new CliError(`store dlq ${args.join(' ')} failed (exit ${code})`);
}

async function withBus<T>(
  ctx: CliContext,
  input: string,
  fn: (bus: PulseBus, stream: string) => Promise<T>,
): Promise<T> {
  const redis = await connectRedis(ctx.env);
  let stream: string;
  try {
    stream = await resolveStream(redis, ctx.env.MD_NAMESPACE, input);
  } finally {
    redis.disconnect();
  }
  const bus = await openBus(ctx.env);
  try {
    return await fn(bus, stream);
  } finally {
    await bus.close();
  }
}

const summary = (d: DeadLetter) => ({
  dlq_entry_id: d.dlqEntryId,
  failed_at: new Date(d.failedAt * 1000).toISOString(),
  reason: d.reason,
  attempts: d.attempts,
  group: d.group,
  source_entry_id: d.sourceEntryId,
  envelope_id: d.envelopeId ?? null,
});

export async function dlqList(
  ctx: CliContext,
  input: string | undefined,
  opts: DlqOptions,
): Promise<void> {
  if (opts.sink)
    return storeDlq(ctx, [
      'list',
      '--sink',
      opts.sink,
      '--offset',
      String(Number(opts.after ?? 0)),
      '--limit',
      String(opts.limit ?? 100),
    ]);
  if (!input) return dlqOverview(ctx);
  await withBus(ctx, input, async (bus, stream) => {
    const letters = await bus.readDeadLetters(stream, {
      count: opts.limit ?? 100,
      after: opts.after,
    });
    if (opts.json) return ctx.out(JSON.stringify(letters.map(summary), null, 2) + '\n');
    ctx.out(
      `${bus.streamName(stream)}${DLQ_SUFFIX}: ${letters.length} shown${letters.length === (opts.limit ?? 100) ? ` (more after ${letters[letters.length - 1].dlqEntryId}: --after)` : ''}\n`,
    );
    if (letters.length)
      ctx.out(
        table(
          ['dlq entry', 'failed at', 'attempts', 'group', 'reason'],
          letters.map((d) => [
            d.dlqEntryId,
            summary(d).failed_at,
            String(d.attempts),
            d.group,
            d.reason,
          ]),
        ),
      );
  });
}

/** Every Pulse dead-letter stream with its size, then the store's file DLQ counts. */
async function dlqOverview(ctx: CliContext): Promise<void> {
  const redis = await connectRedis(ctx.env);
  try {
    const rows: string[][] = [];
    for (const stream of await knownStreams(redis, ctx.env.MD_NAMESPACE)) {
      const dlq = `${ctx.env.MD_NAMESPACE}.${stream}${DLQ_SUFFIX}`;
      const size = await redis.xlen(dlq);
      if (size) rows.push([dlq, String(size)]);
    }
    ctx.out(
      rows.length
        ? table(['dead-letter stream', 'entries'], rows)
        : `no dead letters on any ${ctx.env.MD_NAMESPACE}.*${DLQ_SUFFIX} stream\n`,
    );
  } finally {
    redis.disconnect();
  }
  ctx.out("store file DLQ (entries per sink, this machine's MDS_DLQ_DIR):\n");
  await storeDlq(ctx, ['count']);
}

export async function dlqShow(
  ctx: CliContext,
  input: string | undefined,
  id: string | undefined,
  opts: DlqOptions,
): Promise<void> {
  if (opts.sink) {
    const index = input ?? id;
    if (index === undefined || !/^\d+$/.test(index))
      throw new CliError(
        'usage: mdp dlq show --sink <kind> <index> (the position shown by mdp dlq list --sink <kind>)',
      );
    return storeDlq(ctx, ['list', '--sink', opts.sink, '--offset', index, '--limit', '1']);
  }
  if (!input || !id) throw new CliError('usage: mdp dlq show <stream> <dlq-entry-id>');
  await withBus(ctx, input, async (bus, stream) => {
    let after: string | undefined;
    for (;;) {
      const page = await bus.readDeadLetters(stream, { count: 1000, after });
      const found = page.find((d) => d.dlqEntryId === id);
      if (found) {
        let envelope: unknown = found.envelope;
        try {
          envelope = found.envelope === undefined ? undefined : JSON.parse(found.envelope);
        } catch {
          // not JSON: shown verbatim (that may be why it was dead-lettered)
        }
        ctx.out(
          JSON.stringify(
            {
              ...summary(found),
              dlq_stream: found.dlqStream,
              consumer: found.consumer,
              envelope,
              original: found.original,
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      if (page.length < 1000)
        throw new CliError(
          `no dead letter ${id} on ${bus.streamName(stream)}${DLQ_SUFFIX}; mdp dlq list ${stream} shows the ids`,
        );
      after = page[page.length - 1].dlqEntryId;
    }
  });
}

export async function dlqReplay(
  ctx: CliContext,
  input: string | undefined,
  ids: string[],
  opts: DlqOptions,
): Promise<void> {
  if (opts.sink) return storeDlq(ctx, ['replay', '--sink', opts.sink]);
  if (!input) throw new CliError('usage: mdp dlq replay <stream> (<dlq-entry-id>... | --all)');
  if (!ids.length && !opts.all)
    throw new CliError('name the dead letters to replay (ids from mdp dlq list), or pass --all');
  await withBus(ctx, input, async (bus, stream) => {
    const replayed = await bus.replayDeadLetters(stream, opts.all ? () => true : ids);
    ctx.out(`replayed ${replayed} dead letter(s) onto ${bus.streamName(stream)}\n`);
    if (!opts.all && replayed < ids.length)
      throw new CliError(
        `${ids.length - replayed} of the given ids are not on ${bus.streamName(stream)}${DLQ_SUFFIX}`,
      );
  });
}
