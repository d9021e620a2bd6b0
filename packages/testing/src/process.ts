/** Helpers for tests that run a service or a launcher as a child process. */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * A `node -r` preload that runs TypeScript sources the way Jest does (SWC, workspace packages from
 * their src), so a child process runs the real `src/main.ts` without a prior build.
 */
export const REGISTER_TS = join(__dirname, '..', 'src', 'register-ts.js');

/** A TCP port free right now on 127.0.0.1 (tests never take the services' default ports). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
