/**
 * Dead-letter CLI:
 *   node dist/cli.js dlq list   --sink bars [--offset 0] [--limit 100]
 *   node dist/cli.js dlq count  [--sink bars]
 *   node dist/cli.js dlq replay --sink bars
 * `replay` writes straight to the database of DATABASE_URL (or the embedded PGlite directory) through
 * a local coordinator. With an embedded store running, use its POST /admin/dlq/<sink>/replay instead:
 * PGlite allows one process per directory.
 */
import { parseArgs } from 'util';
import { Registry } from 'prom-client';
import { ConfigError } from '@mdp/service-kit';
import { replayRejects } from './app/admin.module';
import { createStoreCoordinator } from './app/coordinator.module';
import { loadStoreEnv, StoreEnv } from './config/store-config';
import { RejectFiles } from './rejects/reject-files';
import { FeedbackEmitter } from './feedback/feedback-emitter';
import { runMigrations } from './sinks/migrations';
import { PgSqlClient, PgliteSqlClient, type SqlClient } from '@mdp/sql';
import { SINK_KINDS, SinkKind } from './sinks/tables';
import { StoreWriter } from './store-writer';

const USAGE = `usage: cli dlq list|count|replay [--sink ${SINK_KINDS.join('|')}] [--offset N] [--limit N]`;

export async function runCli(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  out: (line: string) => void = console.log,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sink: { type: 'string' },
      offset: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command] = positionals;
  if (values.help || group !== 'dlq' || !['list', 'count', 'replay'].includes(command ?? '')) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const settings = loadStoreEnv(env);
  const rejects = new RejectFiles(settings.MDS_DLQ_DIR);
  const sink = values.sink;
  if (sink !== undefined && !(SINK_KINDS as readonly string[]).includes(sink))
    throw new Error(`unknown sink "${sink}"; one of ${SINK_KINDS.join(', ')}`);

  if (command === 'count') {
    const kinds = sink ? [sink as SinkKind] : SINK_KINDS;
    const counts: Record<string, number> = {};
    for (const k of kinds) counts[k] = await rejects.file(k).count();
    out(JSON.stringify(counts));
    return 0;
  }
  if (!sink) throw new Error(`--sink is required for "dlq ${command}"`);
  const kind = sink as SinkKind;
  if (command === 'list') {
    const page = await rejects
      .file(kind)
      .list({ offset: Number(values.offset ?? 0), limit: Number(values.limit ?? 100) });
    out(JSON.stringify({ sink: kind, ...page }, null, 2));
    return 0;
  }
  const db = await openDatabase(settings);
  try {
    await runMigrations(db);
    const coordinator = createStoreCoordinator(
      settings,
      db,
      rejects,
      new FeedbackEmitter(),
      new Registry(),
    );
    coordinator.start();
    try {
      out(
        JSON.stringify(await replayRejects(rejects, new StoreWriter(coordinator, rejects), kind)),
      );
    } finally {
      await coordinator.stop(settings.MDS_COORDINATOR_DRAIN_TIMEOUT * 1000);
    }
  } finally {
    await db.close();
  }
  return 0;
}

async function openDatabase(env: StoreEnv): Promise<SqlClient> {
  if (env.DATABASE_URL)
    return new PgSqlClient({
      connectionString: env.DATABASE_URL,
      maxConnections: env.MDS_COORDINATOR_WORKERS + 1,
    });
  return PgliteSqlClient.open(env.MDS_PGLITE_DIR);
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
