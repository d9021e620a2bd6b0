const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `1m`, `5s`, `1h`, `1d` -> seconds. */
export function intervalSeconds(interval: string): number {
  const m = /^(\d+)([smhd])$/.exec(interval.trim());
  if (!m || Number(m[1]) <= 0)
    throw new RangeError(`interval must look like 1s, 5m, 1h or 1d, got "${interval}"`);
  return Number(m[1]) * UNITS[m[2]];
}
