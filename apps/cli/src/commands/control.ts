/**
 * `mdp control pause|resume|set-scale`: through the orchestrator's control API (`POST /control` with
 * `Authorization: Bearer $ORCH_ADMIN_TOKEN`), never straight onto the stream, so every action is
 * authenticated and audited in one place. The body is a `ControlAction`; the answer is the target's
 * `ControlResult` (200) or, when the target has not answered within the orchestrator's timeout, 202
 * with a correlation id.
 */
import { CliContext, CliError } from '../context';

export interface ControlOptions {
  target?: string;
  provider?: string;
  reason?: string;
}

export type ControlVerb = 'pause' | 'resume' | 'set-scale';

export function controlBody(verb: ControlVerb, opts: ControlOptions & { scale?: number }, nowSeconds = Date.now() / 1000): Record<string, unknown> {
  const body: Record<string, unknown> = { action: verb === 'set-scale' ? 'set_scale' : verb, ts: nowSeconds };
  if (opts.target) body.target = opts.target;
  if (opts.provider) body.provider = opts.provider;
  if (opts.reason) body.reason = opts.reason;
  if (verb === 'set-scale') {
    if (!opts.provider) throw new CliError('usage: mdp control set-scale <provider> <scale 0..1>');
    if (opts.scale === undefined || !Number.isFinite(opts.scale) || opts.scale < 0 || opts.scale > 1) throw new CliError(`scale must be a number from 0 to 1, got "${opts.scale}"`);
    body.scale = opts.scale;
  }
  return body;
}

export async function controlCommand(ctx: CliContext, verb: ControlVerb, opts: ControlOptions & { scale?: number }): Promise<void> {
  const token = ctx.env.ORCH_ADMIN_TOKEN;
  if (!token) throw new CliError("ORCH_ADMIN_TOKEN is not set: export the orchestrator's admin token to use mdp control");
  const url = new URL('/control', ctx.env.ORCH_URL).toString();
  const body = controlBody(verb, opts);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the orchestrator at ${url}: ${cause} (set ORCH_URL)`);
  }
  const text = await res.text();
  let answer: unknown = text;
  try {
    answer = JSON.parse(text);
  } catch {
    // not JSON: shown as text
  }
  const shown = typeof answer === 'string' ? answer : JSON.stringify(answer, null, 2);
  if (res.status === 200) return ctx.out(shown + '\n');
  if (res.status === 202) return ctx.out(`accepted; the target has not answered yet (the audit trail will show the result):\n${shown}\n`);
  if (res.status === 401) throw new CliError(`the orchestrator refused the token (401): check ORCH_ADMIN_TOKEN`);
  if (res.status === 403) throw new CliError(`control is disabled on the orchestrator (403): it runs without ORCH_ADMIN_TOKEN`);
  throw new CliError(`the orchestrator answered ${res.status}: ${shown}`);
}
