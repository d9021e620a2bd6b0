#!/usr/bin/env node
/**
 * mdp: the operator's command line. Reads the services' environment (REDIS_URL, MD_NAMESPACE,
 * SCHEMA_TRACK, PUBLISHER_TOKEN; ORCH_URL and ORCH_ADMIN_TOKEN for control).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '@mdp/service-kit';
import { CliContext, CliError, Env, loadEnv, Write } from './context';
import { controlCommand } from './commands/control';
import { dlqList, dlqReplay, dlqShow } from './commands/dlq';
import { publishCommand } from './commands/publish';
import { streamsCommand } from './commands/streams';
import { tailCommand } from './commands/tail';

const int = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

export interface RunOptions {
  env?: Env;
  out?: Write;
  err?: Write;
  interactive?: boolean;
  /** Stops a running `tail`. */
  signal?: AbortSignal;
}

/** Runs one command line; resolves with the exit code (errors are printed, never thrown). */
export async function run(argv: string[], options: RunOptions = {}): Promise<number> {
  const out = options.out ?? ((t: string) => void process.stdout.write(t));
  const err = options.err ?? ((t: string) => void process.stderr.write(t));
  const rawEnv = options.env ?? process.env;
  let context: CliContext | undefined;
  const ctx = (): CliContext =>
    (context ??= {
      env: loadEnv(rawEnv),
      rawEnv,
      out,
      err,
      interactive: options.interactive ?? Boolean(process.stderr.isTTY),
    });

  const program = new Command('mdp')
    .description('mdp operator CLI: streams, live tail, dead letters, control, CSV publish')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError();

  program
    .command('streams')
    .description(
      'streams with length, consumer groups (consumers, pending, lag) and dead-letter counts',
    )
    .option('--json', 'machine-readable output')
    .action((o) => streamsCommand(ctx(), o));

  program
    .command('tail <stream>')
    .description('decoded envelopes of a stream as they arrive (md.bars or mdp.md.bars)')
    .option('--from-start', 'begin with the oldest entry instead of new ones')
    .option('-n, --count <n>', 'stop after n entries', int('--count'))
    .action((stream, o) =>
      tailCommand(ctx(), stream, { ...o, signal: options.signal }).then(() => undefined),
    );

  const dlq = program
    .command('dlq')
    .description("dead letters: Pulse's <stream>.dlq, or the store's file DLQ with --sink");
  const sink = () =>
    new Option(
      '--sink <kind>',
      "the store's file DLQ of this sink (bars, options, news, fundamentals) instead of a stream",
    );
  dlq
    .command('list [stream]')
    .description(
      'dead letters of a stream (all dead-letter streams and file DLQ counts without one)',
    )
    .addOption(sink())
    .option('--limit <n>', 'at most n entries', int('--limit'))
    .option('--after <id>', 'page: entries after this dlq entry id (with --sink: an offset)')
    .option('--json', 'machine-readable output')
    .action((stream, o) => dlqList(ctx(), stream, o));
  dlq
    .command('show [stream] [id]')
    .description('one dead letter in full: <stream> <dlq-entry-id>, or --sink <kind> <index>')
    .addOption(sink())
    .action((stream, id, o) => dlqShow(ctx(), stream, id, o));
  dlq
    .command('replay [stream] [ids...]')
    .description(
      'put dead letters back on their stream (by id, or --all); with --sink: rewrite the file DLQ rows into the database',
    )
    .addOption(sink())
    .option('--all', 'every dead letter of the stream')
    .action((stream, ids, o) => dlqReplay(ctx(), stream, ids, o));

  const control = program
    .command('control')
    .description("control actions through the orchestrator's API (ORCH_URL, ORCH_ADMIN_TOKEN)");
  for (const verb of ['pause', 'resume'] as const) {
    control
      .command(`${verb} [provider]`)
      .description(`${verb} every provider of the pipeline, the one named, or --target`)
      .option(
        '--target <target>',
        'who acts: pipeline, store, a consumer name, provider:<name> or stream:<name>',
      )
      .option('--reason <text>', 'recorded in the audit trail')
      .option(
        '--actor <name>',
        'who is asking, recorded in the audit trail (default <user>@mdp-cli)',
      )
      .action((provider, o) => controlCommand(ctx(), verb, { ...o, provider }));
  }
  control
    .command('set-scale <provider> <scale>')
    .description("scale a provider's rate budget (0..1)")
    .option('--reason <text>', 'recorded in the audit trail')
    .option('--actor <name>', 'who is asking, recorded in the audit trail (default <user>@mdp-cli)')
    .action((provider, scale, o) =>
      controlCommand(ctx(), 'set-scale', { ...o, provider, scale: Number(scale) }),
    );

  program
    .command('publish')
    .description(
      'replay a CSV or NDJSON file (optionally .gz) onto the market-data streams, with a progress bar',
    )
    .requiredOption('--file <path>', 'the file to publish')
    .addOption(
      new Option('--kind <kind>', 'what the file holds')
        .choices(['bar', 'option', 'news', 'fundamentals'])
        .default('bar'),
    )
    .option('--provider <name>', 'provider name for rows without a provider column', 'replay')
    .action((o) => publishCommand(ctx(), o).then(() => undefined));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) err(`mdp: ${e.message}\n`);
    else if (e instanceof ConfigError) err(`mdp: ${e.message}\n`);
    else err(`mdp: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  run(process.argv.slice(2), { signal: stop.signal }).then((code) => process.exit(code));
}
