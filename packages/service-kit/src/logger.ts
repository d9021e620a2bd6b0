import pino, { Logger } from 'pino';

export type { Logger } from 'pino';

/** Structured JSON logs (pino); `service` is on every line. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
