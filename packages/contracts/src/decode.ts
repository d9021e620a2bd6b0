import type { z } from 'zod';
import { ContractError, DecodeResult, fromZodError } from './errors';
import { EventEnvelope } from './envelope';
import { decodePayload } from './registry';

/** Parses `data` with `schema` into a typed result with readable error paths; never throws. */
export function decode<S extends z.ZodType>(schema: S, data: unknown): DecodeResult<z.infer<S>> {
  const parsed = schema.safeParse(data);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, error: fromZodError(parsed.error, data) };
}

/** Validates the envelope, then its payload against `(meta.schema_id, meta.track)`. */
export function decodeEnvelope<T = unknown>(data: unknown): DecodeResult<EventEnvelope<T>> {
  const env = EventEnvelope.safeParse(data);
  if (!env.success) return { ok: false, error: fromZodError(env.error, data) };
  const payload = decodePayload<T>(env.data.meta.schema_id, env.data.meta.track, env.data.payload);
  if (!payload.ok) {
    const issues = payload.error.issues.map((i) => ({
      ...i,
      path: i.path.startsWith('meta.') ? i.path : ['payload', i.path].filter(Boolean).join('.'),
    }));
    return {
      ok: false,
      error: new ContractError(payload.error.code, issues, payload.error.schemaId),
    };
  }
  return {
    ok: true,
    value: { ...env.data, meta: env.data.meta as EventEnvelope['meta'], payload: payload.value },
  };
}
