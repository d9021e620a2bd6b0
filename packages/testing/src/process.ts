/** For tests that run a service's TypeScript sources as a child process. */
import { join } from 'node:path';

/**
 * A `node -r` preload that runs TypeScript sources the way Jest does (SWC, workspace packages from
 * their src), so a child process runs the real `src/main.ts` without a prior build.
 */
export const REGISTER_TS = join(__dirname, '..', 'src', 'register-ts.js');
