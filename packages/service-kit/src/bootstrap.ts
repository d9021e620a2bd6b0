import type { INestApplication } from '@nestjs/common';
import type { EventBus } from '@mdp/pulse';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What every service's `bootstrap()` accepts, so one launcher starts them all the same way. */
export interface ServiceBootstrapOptions {
  /** Overrides `PORT`; 0 picks a free port (tests). */
  port?: number;
  /** Run on an existing bus (one in-memory bus shared by every service in one process); the service never closes it. */
  bus?: EventBus;
  /** Environment to read instead of `process.env`. */
  env?: Record<string, string | undefined>;
  /** Metrics registry; default a fresh one with Node's default metrics. */
  registry?: Registry;
  logger?: Logger;
  /**
   * Install SIGTERM/SIGINT handlers that drain and exit the process (default true). A launcher that
   * runs several services in one process passes false and calls `close()` itself.
   */
  handleSignals?: boolean;
}

/** Nest's start-up chatter (one line per module and route): useful when debugging, noise otherwise. */
const NEST_STARTUP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * Adapts pino to Nest's LoggerService so framework messages go through the service's logger too;
 * Nest's start-up messages are logged at debug level.
 */
export function nestLogger(logger: Logger) {
  const fmt = (message: unknown, context?: unknown) => ({
    context: typeof context === 'string' ? context : undefined,
    msg: String(message),
  });
  return {
    log: (m: unknown, c?: unknown) =>
      typeof c === 'string' && NEST_STARTUP_CONTEXTS.has(c)
        ? logger.debug(fmt(m, c))
        : logger.info(fmt(m, c)),
    error: (m: unknown, trace?: unknown, c?: unknown) => logger.error({ ...fmt(m, c), trace }),
    warn: (m: unknown, c?: unknown) => logger.warn(fmt(m, c)),
    debug: (m: unknown, c?: unknown) => logger.debug(fmt(m, c)),
    verbose: (m: unknown, c?: unknown) => logger.trace(fmt(m, c)),
    fatal: (m: unknown, c?: unknown) => logger.fatal(fmt(m, c)),
  };
}

/**
 * Listens on `port` and turns SIGTERM/SIGINT into a graceful `app.close()` (Nest runs every module's
 * shutdown hooks: consumers stop, queues drain, connections close) followed by exit code 0.
 */
export async function listenWithGracefulShutdown(
  app: INestApplication,
  port: number,
  logger: Logger,
): Promise<void> {
  await app.listen(port);
  logger.info({ port }, 'listening');
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.close();
      logger.info('shut down cleanly');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
