/** PostgreSQL's own clock: microseconds since 2000-01-01 UTC, as its timestamps count. */
export const PG_EPOCH_OFFSET_SEC = 946_684_800; // 2000-01-01 in Unix seconds

/** Round half to even, as C's rint(). */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Epoch seconds as PostgreSQL microseconds since 2000, rounded exactly as to_timestamp(float8)
 * rounds them (shift to its epoch, scale, rint), so every write path gives a row the same key.
 */
export function pgMicros(sec: number): number {
  return rint((sec - PG_EPOCH_OFFSET_SEC) * 1e6);
}
