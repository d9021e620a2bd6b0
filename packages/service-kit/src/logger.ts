import pino, { Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** `pretty`: one coloured line per record (for people); `json`: one JSON object per line (for machines). */
export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** `auto` is pretty when stdout is a terminal and JSON otherwise (pipes, files, containers). */
export function resolveLogFormat(
  format: LogFormat = 'auto',
  isTty = Boolean(process.stdout.isTTY),
): 'json' | 'pretty' {
  return format === 'auto' ? (isTty ? 'pretty' : 'json') : format;
}

/** Structured logs (pino); `service` is on every line. */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  format: LogFormat = (process.env.LOG_FORMAT as LogFormat | undefined) ?? 'auto',
): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (resolveLogFormat(format) === 'json') return pino(options);
  // In the main thread (not a transport worker): several services in one process share stdout in order.
  return pino(
    options,
    pretty({
      colorize: true,
      sync: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name,service',
      messageFormat: '{service} | {msg}',
    }),
  );
}
