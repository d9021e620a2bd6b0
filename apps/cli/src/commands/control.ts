/**
 * `mdp control pause|resume|set-scale`: through the orchestrator's control API (`POST /control` with
 * `Authorization: Bearer $ORCH_ADMIN_TOKEN`), never straight onto the stream, so every action is
 * authenticated and audited in one place. The answer is the target's result (200) or, when the target
 * has not answered within the orchestrator's timeout, 202 with a correlation id (apps/orchestrator/README.md).
 */
import { userInfo } from 'node:os';
import { ControlRequest } from '@mdp/orchestrator/dist/control/control-request';
import { CliContext, CliError } from '../context';

export interface ControlOptions {
  /** Who acts: `pipeline`, `store`, a consumer name, `provider:<name>`, `stream:<name>`. */
  target?: string;
  provider?: string;
  scale?: number;
  reason?: string;
  actor?: string;
}

export type ControlVerb = 'pause' | 'resume' | 'set-scale';

/**
 * The request body, checked with the orchestrator's own request schema so a bad value is refused
 * here with the same message the API would give. pause / resume: a named provider becomes the target
 * `provider:<name>`; with neither, the target is `pipeline` (every provider).
 */
export function controlBody(verb: ControlVerb, opts: ControlOptions): ControlRequest {
  const body: Record<string, unknown> = {
    action: verb === 'set-scale' ? 'set_scale' : verb,
    actor: opts.actor ?? actorName(),
  };
  if (verb === 'set-scale') Object.assign(body, { provider: opts.provider, scale: opts.scale });
  const target =
    opts.target ??
    (verb === 'set-scale' ? undefined : opts.provider ? `provider:${opts.provider}` : 'pipeline');
  if (target) body.target = target;
  if (opts.reason) body.reason = opts.reason;
  const parsed = ControlRequest.safeParse(body);
  if (!parsed.success)
    throw new CliError(
      `invalid control request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

function actorName(): string {
  try {
    return `${userInfo().username}@mdp-cli`;
  } catch {
    return 'mdp-cli';
  }
}

export async function controlCommand(
  ctx: CliContext,
  verb: ControlVerb,
  opts: ControlOptions,
): Promise<void> {
  const token = ctx.env.ORCH_ADMIN_TOKEN;
  if (!token)
    throw new CliError(
      "ORCH_ADMIN_TOKEN is not set: export the orchestrator's admin token to use mdp control",
    );
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
  if (res.status === 200) {
    ctx.out(shown + '\n');
    if ((answer as { status?: string }).status === 'error')
      throw new CliError(
        `the target answered with an error: ${(answer as { detail?: string }).detail ?? ''}`,
      );
    return;
  }
  if (res.status === 202)
    return ctx.out(
      `accepted; the target has not answered yet (the audit trail will show the result):\n${shown}\n`,
    );
  if (res.status === 401)
    throw new CliError(`the orchestrator refused the token (401): check ORCH_ADMIN_TOKEN`);
  if (res.status === 403)
    throw new CliError(
      `control is disabled on the orchestrator (403): it runs without ORCH_ADMIN_TOKEN`,
    );
  if (res.status === 400)
    throw new CliError(`the orchestrator refused the request (400): ${shown}`);
  throw new CliError(`the orchestrator answered ${res.status}: ${shown}`);
}
