import type { INestApplication } from '@nestjs/common';
import request from 'supertest';

/** Polls GET /status until `done(status)` holds; no fixed sleeps, generous deadline. */
export async function statusWhen(
  app: INestApplication,
  done: (status: StatusBody) => boolean,
  timeoutMs = 10_000,
): Promise<StatusBody> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusBody | undefined;
  while (Date.now() < deadline) {
    last = (await request(app.getHttpServer()).get('/status').expect(200)).body as StatusBody;
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `condition not met within ${timeoutMs} ms; last /status: ${JSON.stringify(last)}`,
  );
}

export async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StatusBody = any;

export const quietEnv = (namespace: string, extra: Record<string, string> = {}) => ({
  EVENT_BUS_BACKEND: 'inmem',
  MD_NAMESPACE: namespace,
  LOG_LEVEL: 'silent',
  ORCH_PGLITE_DIR: 'memory://',
  ...extra,
});
