/**
 * Optional HMAC signing. The signature covers the canonical JSON of the envelope without the
 * signature header (object keys sorted at every level, no whitespace, JSON.stringify number and string
 * forms), so a producer in another language can reproduce it.
 */
import { createHmac, timingSafeEqual } from 'crypto';
import type { EventEnvelope } from '@mdp/contracts';

export const SIGNATURE_HEADER = 'x-pulse-signature';
const PREFIX = 'sha256=';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${parts.join(',')}}`;
}

function withoutSignature(envelope: EventEnvelope | Record<string, unknown>): unknown {
  const env = envelope as { meta?: { headers?: Record<string, string> } };
  const headers = env.meta?.headers;
  if (!headers || !(SIGNATURE_HEADER in headers)) return envelope;
  const rest = { ...headers };
  delete rest[SIGNATURE_HEADER];
  return { ...env, meta: { ...env.meta, headers: rest } };
}

export function signatureOf(
  envelope: EventEnvelope | Record<string, unknown>,
  token: string,
): string {
  return (
    PREFIX +
    createHmac('sha256', token)
      .update(canonicalJson(withoutSignature(envelope)))
      .digest('hex')
  );
}

/** A copy of the envelope carrying its signature header. */
export function signEnvelope<T>(envelope: EventEnvelope<T>, token: string): EventEnvelope<T> {
  const sig = signatureOf(envelope, token);
  return {
    ...envelope,
    meta: { ...envelope.meta, headers: { ...envelope.meta.headers, [SIGNATURE_HEADER]: sig } },
  };
}

/** Why a (raw, parsed JSON) envelope's signature is unacceptable, or undefined when it is fine. */
export function signatureProblem(
  rawEnvelope: Record<string, unknown>,
  token: string,
): string | undefined {
  const headers = (rawEnvelope.meta as { headers?: Record<string, unknown> } | undefined)?.headers;
  const given = headers?.[SIGNATURE_HEADER];
  if (typeof given !== 'string' || given.length === 0)
    return `missing signature: header ${SIGNATURE_HEADER} is required`;
  const expected = signatureOf(rawEnvelope, token);
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return `bad signature: header ${SIGNATURE_HEADER} does not match the envelope`;
  return undefined;
}
