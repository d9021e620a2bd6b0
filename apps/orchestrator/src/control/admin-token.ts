import { createHash, timingSafeEqual } from 'node:crypto';

export type TokenVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/**
 * Bearer-token check of the control API. Unset token: control is disabled (403), never open. The
 * comparison is on SHA-256 digests with timingSafeEqual, so neither the token's content nor its length
 * leaks through response timing.
 */
export function checkBearer(
  expected: string | undefined,
  authorization: string | undefined,
): TokenVerdict {
  if (!expected)
    return { ok: false, status: 403, reason: 'control disabled: ORCH_ADMIN_TOKEN is not set' };
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
  if (!match)
    return {
      ok: false,
      status: 401,
      reason: 'missing bearer token (Authorization: Bearer <ORCH_ADMIN_TOKEN>)',
    };
  const given = createHash('sha256').update(match[1]).digest();
  const wanted = createHash('sha256').update(expected).digest();
  return timingSafeEqual(given, wanted)
    ? { ok: true }
    : { ok: false, status: 401, reason: 'wrong bearer token' };
}
