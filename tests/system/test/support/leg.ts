/**
 * The contract-matrix leg a run stands for: SCHEMA_TRACK x EVENT_BUS_BACKEND, as the workflow sets
 * them. Unset means the deployed default of these tests (v1 over Redis). Anything else is not a leg:
 * it fails loudly here instead of quietly testing the default.
 */
export interface Leg {
  track: 'v1' | 'v2';
  backend: 'redis' | 'inmem';
  /** Whether the environment named a leg (a matrix run) or the defaults apply (`pnpm test`). */
  named: boolean;
}

const TRACKS = ['v1', 'v2'] as const;
const BACKENDS = ['redis', 'inmem'] as const;

export function legFromEnv(env: Record<string, string | undefined>): Leg {
  const track = env.SCHEMA_TRACK?.trim() || 'v1';
  const backend = env.EVENT_BUS_BACKEND?.trim() || 'redis';
  const problems: string[] = [];
  if (!(TRACKS as readonly string[]).includes(track))
    problems.push(`SCHEMA_TRACK=${track} is not a schema track (${TRACKS.join(' or ')})`);
  if (!(BACKENDS as readonly string[]).includes(backend))
    problems.push(`EVENT_BUS_BACKEND=${backend} is not a bus backend (${BACKENDS.join(' or ')})`);
  if (problems.length) throw new Error(`invalid contract-matrix leg: ${problems.join('; ')}`);
  const named = Boolean(env.SCHEMA_TRACK?.trim() || env.EVENT_BUS_BACKEND?.trim());
  return { track: track as Leg['track'], backend: backend as Leg['backend'], named };
}
