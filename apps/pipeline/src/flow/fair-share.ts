import type { GovernedProvider } from './flow-controller';

/**
 * Splits `total` records/s among providers in proportion to their weights, never giving one more
 * than its own configured rate; what a capped provider cannot use goes to the others (weighted
 * max-min fairness, by water-filling). Returns records/s per provider.
 */
export function fairShares(
  total: number,
  providers: readonly GovernedProvider[],
): Map<string, number> {
  const out = new Map(providers.map((p) => [p.provider, 0]));
  let remaining = Math.max(0, total);
  let open = providers.filter((p) => p.rate > 0 && p.weight > 0);
  while (open.length > 0 && remaining > 1e-9) {
    const weights = open.reduce((s, p) => s + p.weight, 0);
    const capped = open.filter(
      (p) => p.rate - out.get(p.provider)! <= (remaining * p.weight) / weights,
    );
    if (capped.length === 0) {
      for (const p of open)
        out.set(p.provider, out.get(p.provider)! + (remaining * p.weight) / weights);
      break;
    }
    for (const p of capped) {
      remaining -= p.rate - out.get(p.provider)!;
      out.set(p.provider, p.rate);
    }
    open = open.filter((p) => !capped.includes(p));
  }
  return out;
}

/** Budget scale per provider for a total of `total` records/s shared by weight. */
export function fairScales(
  total: number,
  providers: readonly GovernedProvider[],
): Map<string, number> {
  const budget = providers.reduce((s, p) => s + p.rate, 0);
  const shares = fairShares(total, providers);
  return new Map(
    providers.map((p) => [
      p.provider,
      // A provider without a budget yet (not registered) follows the overall fraction.
      p.rate > 0
        ? Math.min(1, shares.get(p.provider)! / p.rate)
        : budget > 0
          ? Math.min(1, total / budget)
          : 1,
    ]),
  );
}
